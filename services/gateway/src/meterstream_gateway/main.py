"""Run the gateway: `meterstream-gateway` or `python -m meterstream_gateway`."""

from __future__ import annotations

import logging

import uvicorn

from meterstream_gateway.app import create_app
from meterstream_gateway.config import GatewayConfig
from meterstream_kafka import KafkaConfig


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    config = GatewayConfig()
    app = create_app(config, KafkaConfig())
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        http="httptools",  # the C parser: h11 costs more per request than the events
        loop="uvloop",
    )


if __name__ == "__main__":
    main()

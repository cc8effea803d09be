"""Run the query API (and, by default, the sink beside it): `meterstream-api`.

With embedded chDB only one process may open the data folder, so the process
that stores (the sink) also answers queries: both share one `Warehouse`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_kafka import KafkaConfig
from meterstream_sink.config import SinkConfig
from meterstream_sink.service import ClickHouseSink
from meterstream_warehouse import WarehouseConfig, migrate, open_warehouse

log = logging.getLogger("meterstream_api")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process stops the sink first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _started(server: uvicorn.Server) -> None:
    """uvicorn reports its start with a flag, not an event: poll it."""
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def serve(config: ApiConfig, warehouse_config: WarehouseConfig) -> None:
    warehouse = open_warehouse(warehouse_config)
    try:
        migrate(warehouse, raw_retention_days=warehouse_config.raw_retention_days)
        app = create_app(config, warehouse)
        server = _Server(
            uvicorn.Config(
                app, host=config.host, port=config.port, log_level="warning", access_log=False
            )
        )
        sink = None
        if config.run_sink:
            sink = ClickHouseSink(config=SinkConfig(), kafka=KafkaConfig(), warehouse=warehouse)
        loop = asyncio.get_running_loop()

        def stop() -> None:
            server.should_exit = True
            if sink is not None:
                sink.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop)
        tasks = [asyncio.create_task(server.serve())]
        if sink is not None:
            tasks.append(asyncio.create_task(sink.run()))
        await _started(server)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"api ready on http://{config.host}:{port}", flush=True)
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        stop()
        await asyncio.gather(*tasks)
    finally:
        warehouse.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(ApiConfig(), WarehouseConfig()))


if __name__ == "__main__":
    main()

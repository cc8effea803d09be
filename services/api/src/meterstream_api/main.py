"""Run the query API and the dashboard: `meterstream-api`.

The API only reads; the sink, the workers and the CLI reach the same ClickHouse
server at the same time."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_warehouse import WarehouseConfig, migrate, open_warehouse

log = logging.getLogger("meterstream_api")


async def _started(server: uvicorn.Server) -> None:
    """uvicorn reports its start with a flag, not an event: poll it."""
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def serve(config: ApiConfig, warehouse_config: WarehouseConfig) -> None:
    warehouse = open_warehouse(warehouse_config)
    try:
        migrate(warehouse, raw_retention_days=warehouse_config.raw_retention_days)
        app = create_app(config, warehouse)
        server = uvicorn.Server(
            uvicorn.Config(
                app, host=config.host, port=config.port, log_level="warning", access_log=False
            )
        )
        serving = asyncio.create_task(server.serve())
        await _started(server)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(f"api ready on http://{config.host}:{port}", flush=True)
        await serving
    finally:
        warehouse.close()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(ApiConfig(), WarehouseConfig()))


if __name__ == "__main__":
    main()

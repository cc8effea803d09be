"""Open the configured backend."""

from __future__ import annotations

from meterstream_warehouse.base import Warehouse
from meterstream_warehouse.config import WarehouseConfig


def open_warehouse(config: WarehouseConfig) -> Warehouse:
    if config.backend == "server":
        from meterstream_warehouse.server_backend import ServerWarehouse

        return ServerWarehouse(
            config.url, database=config.database, query_timeout_s=config.query_timeout_s
        )
    from meterstream_warehouse.chdb_backend import ChdbWarehouse

    return ChdbWarehouse(config.chdb_path, database=config.database)

"""meterstream warehouse: one `Warehouse` interface over chDB and a ClickHouse server."""

from meterstream_warehouse.base import InsertResult, QueryParams, Warehouse
from meterstream_warehouse.config import WarehouseConfig
from meterstream_warehouse.errors import (
    LocalServerError,
    MigrationError,
    RejectedBatch,
    RetriableWarehouseError,
    WarehouseError,
)
from meterstream_warehouse.factory import open_warehouse
from meterstream_warehouse.local_server import LocalClickHouse, find_clickhouse_script
from meterstream_warehouse.migrate import load_migrations, migrate, set_raw_retention
from meterstream_warehouse.tables import EVENT_TABLES, TABLES, TableSpec, table_for_kind

__all__ = [
    "EVENT_TABLES",
    "TABLES",
    "InsertResult",
    "LocalClickHouse",
    "LocalServerError",
    "MigrationError",
    "QueryParams",
    "RejectedBatch",
    "RetriableWarehouseError",
    "TableSpec",
    "Warehouse",
    "WarehouseConfig",
    "WarehouseError",
    "find_clickhouse_script",
    "load_migrations",
    "migrate",
    "open_warehouse",
    "set_raw_retention",
    "table_for_kind",
]

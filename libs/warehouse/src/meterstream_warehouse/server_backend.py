"""A ClickHouse server through clickhouse-connect (HTTP)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect
import pyarrow as pa
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from meterstream_warehouse.base import InsertResult, QueryParams
from meterstream_warehouse.errors import (
    RetriableWarehouseError,
    WarehouseError,
    classify_insert_error,
)
from meterstream_warehouse.settings import insert_settings


class ServerWarehouse:
    """`Warehouse` on a ClickHouse server; the database is created if missing."""

    def __init__(self, url: str, *, database: str, query_timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        connection: dict[str, Any] = {
            "host": parts.hostname or "127.0.0.1",
            "port": parts.port or (8443 if parts.scheme == "https" else 8123),
            "username": parts.username or "default",
            "password": parts.password or "",
            "secure": parts.scheme == "https",
            "send_receive_timeout": query_timeout_s,
            # No HTTP session: one client serves concurrent callers (the API's request
            # threads, a sink's insert beside a query), which a session id would refuse.
            "autogenerate_session_id": False,
        }
        self._database = database
        try:
            bootstrap = clickhouse_connect.get_client(**connection)
            bootstrap.command(f"CREATE DATABASE IF NOT EXISTS {database}")
            bootstrap.close()
            self._client = clickhouse_connect.get_client(database=database, **connection)
        except OperationalError as error:
            raise RetriableWarehouseError(f"ClickHouse at {parts.hostname}: {error}") from error

    @property
    def backend(self) -> str:
        return "server"

    @property
    def database(self) -> str:
        return self._database

    def execute(self, sql: str, *, params: QueryParams | None = None) -> None:
        try:
            self._client.command(sql, parameters=dict(params) if params else None)
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise WarehouseError(str(error)) from error

    def query_rows(self, sql: str, *, params: QueryParams | None = None) -> list[dict[str, Any]]:
        try:
            result = self._client.query(sql, parameters=dict(params) if params else None)
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise WarehouseError(str(error)) from error
        return list(result.named_results())

    def query_arrow(self, sql: str, *, params: QueryParams | None = None) -> pa.Table:
        try:
            table = self._client.query_arrow(sql, parameters=dict(params) if params else None)
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise WarehouseError(str(error)) from error
        assert isinstance(table, pa.Table)
        return table

    def insert_json_rows(
        self, table: str, data: bytes, *, dedup_token: str | None = None
    ) -> InsertResult:
        started = time.perf_counter()
        try:
            summary = self._client.raw_insert(
                table, insert_block=data, settings=insert_settings(dedup_token), fmt="JSONEachRow"
            )
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise classify_insert_error(str(error)) from error
        return InsertResult(rows=summary.written_rows, seconds=time.perf_counter() - started)

    def insert_arrow(
        self, table: str, batch: pa.Table, *, dedup_token: str | None = None
    ) -> InsertResult:
        started = time.perf_counter()
        settings: dict[str, str | int] = (
            {} if dedup_token is None else {"insert_deduplication_token": dedup_token}
        )
        try:
            summary = self._client.insert_arrow(table, batch, settings=settings)
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise classify_insert_error(str(error)) from error
        return InsertResult(rows=summary.written_rows, seconds=time.perf_counter() - started)

    def close(self) -> None:
        self._client.close()

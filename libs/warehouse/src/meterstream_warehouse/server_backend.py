"""A ClickHouse server through clickhouse-connect (HTTP)."""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

from meterstream_warehouse.base import InsertResult, JsonRows, QueryParams
from meterstream_warehouse.errors import (
    RetriableWarehouseError,
    WarehouseError,
    classify_insert_error,
)
from meterstream_warehouse.settings import insert_settings

if TYPE_CHECKING:
    import pyarrow as pa

STREAM_CHUNK_BYTES = 1024 * 1024
"""Pieces of an insert are sent in chunks of about this size (HTTP chunked encoding)."""


def _chunks(
    pieces: Sequence[bytes], size: int = STREAM_CHUNK_BYTES
) -> Generator[bytes, None, None]:
    """Small pieces joined up to `size`, large ones as they are: few writes, no whole copy."""
    pending: list[bytes] = []
    pending_bytes = 0
    for piece in pieces:
        if len(piece) >= size:
            if pending:
                yield b"".join(pending)
                pending, pending_bytes = [], 0
            yield piece
            continue
        pending.append(piece)
        pending_bytes += len(piece)
        if pending_bytes >= size:
            yield b"".join(pending)
            pending, pending_bytes = [], 0
    if pending:
        yield b"".join(pending)


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
        import pyarrow as pa

        try:
            table = self._client.query_arrow(sql, parameters=dict(params) if params else None)
        except OperationalError as error:
            raise RetriableWarehouseError(str(error)) from error
        except DatabaseError as error:
            raise WarehouseError(str(error)) from error
        assert isinstance(table, pa.Table)
        return table

    def insert_json_rows(
        self, table: str, data: JsonRows, *, dedup_token: str | None = None
    ) -> InsertResult:
        started = time.perf_counter()
        # Pieces go out as a generator: clickhouse-connect streams it, so the batch is
        # never joined into one buffer (and then copied again behind the INSERT statement).
        block = data if isinstance(data, bytes) else _chunks(data)
        try:
            summary = self._client.raw_insert(
                table, insert_block=block, settings=insert_settings(dedup_token), fmt="JSONEachRow"
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

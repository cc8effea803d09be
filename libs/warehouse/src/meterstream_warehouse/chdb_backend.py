"""Embedded ClickHouse through chDB: the same engine, in this process, on a data folder.

chDB allows one process per data folder, so the process that owns the store
also answers its queries.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import chdb
import orjson
import pyarrow as pa

from meterstream_warehouse.base import InsertResult, JsonRows, QueryParams
from meterstream_warehouse.errors import WarehouseError, classify_insert_error
from meterstream_warehouse.settings import insert_settings, settings_clause


class ChdbWarehouse:
    """`Warehouse` on embedded chDB. Calls are serialised: chDB runs one statement at a time."""

    def __init__(self, path: Path, *, database: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._path = path
        self._database = database
        self._lock = threading.Lock()
        self._conn = chdb.connect(str(path.resolve()))
        self._run(f"CREATE DATABASE IF NOT EXISTS {database}")
        self._run(f"USE {database}")

    @property
    def backend(self) -> str:
        return "chdb"

    @property
    def database(self) -> str:
        return self._database

    def _run(self, sql: str, fmt: str = "CSV", params: QueryParams | None = None) -> Any:
        with self._lock:
            try:
                return self._conn.query(sql, fmt, params=dict(params or {}))
            except Exception as error:
                raise WarehouseError(str(error)) from error

    def execute(self, sql: str, *, params: QueryParams | None = None) -> None:
        self._run(sql, "CSV", params)

    def query_rows(self, sql: str, *, params: QueryParams | None = None) -> list[dict[str, Any]]:
        result = self._run(sql, "JSONEachRow", params)
        raw = result.bytes() if hasattr(result, "bytes") else bytes(result)
        return [orjson.loads(line) for line in raw.splitlines() if line]

    def query_arrow(self, sql: str, *, params: QueryParams | None = None) -> pa.Table:
        table = self._run(sql, "ArrowTable", params)
        assert isinstance(table, pa.Table)
        return table

    def _stream_insert(self, statement: str, fmt: str, payload: JsonRows) -> InsertResult:
        started = time.perf_counter()
        pieces = [payload] if isinstance(payload, bytes) else payload
        with self._lock:
            try:
                with self._conn.send_insert(statement, fmt) as inserter:
                    for piece in pieces:
                        inserter.append(piece)
                    result = inserter.finish()
            except Exception as error:
                raise classify_insert_error(str(error)) from error
        return InsertResult(rows=int(result.rows_written), seconds=time.perf_counter() - started)

    def insert_json_rows(
        self, table: str, data: JsonRows, *, dedup_token: str | None = None
    ) -> InsertResult:
        clause = settings_clause(insert_settings(dedup_token))
        return self._stream_insert(f"INSERT INTO {table} {clause}", "JSONEachRow", data)

    def insert_arrow(
        self, table: str, batch: pa.Table, *, dedup_token: str | None = None
    ) -> InsertResult:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, batch.schema) as writer:
            writer.write_table(batch)
        columns = ", ".join(batch.column_names)
        settings: dict[str, str | int] = (
            {} if dedup_token is None else {"insert_deduplication_token": dedup_token}
        )
        clause = settings_clause(settings) if settings else ""
        statement = f"INSERT INTO {table} ({columns}) {clause}"
        return self._stream_insert(statement, "ArrowStream", sink.getvalue().to_pybytes())

    def close(self) -> None:
        with self._lock:
            self._conn.close()

"""The one interface to ClickHouse, with an embedded (chDB) and a server backend."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

QueryParams = Mapping[str, Any]
"""Values bound server-side to `{name:Type}` placeholders; never formatted into SQL."""


@dataclass(frozen=True, slots=True)
class InsertResult:
    rows: int
    seconds: float


@runtime_checkable
class Warehouse(Protocol):
    """What the sink, the query layer and migrations need from ClickHouse.

    All methods are blocking; async callers run them in a worker thread.
    """

    @property
    def backend(self) -> str: ...

    @property
    def database(self) -> str: ...

    def execute(self, sql: str, *, params: QueryParams | None = None) -> None:
        """Run a statement that returns nothing (DDL, ALTER, OPTIMIZE)."""

    def query_rows(self, sql: str, *, params: QueryParams | None = None) -> list[dict[str, Any]]:
        """Run a SELECT; rows as dicts keyed by column name."""

    def query_arrow(self, sql: str, *, params: QueryParams | None = None) -> pa.Table:
        """Run a SELECT; the result as an Arrow table."""

    def insert_json_rows(
        self, table: str, data: bytes, *, dedup_token: str | None = None
    ) -> InsertResult:
        """Insert NDJSON (JSONEachRow) bytes as they are; unknown fields are skipped."""

    def insert_arrow(
        self, table: str, batch: pa.Table, *, dedup_token: str | None = None
    ) -> InsertResult:
        """Insert an Arrow table; its column names are the target columns."""

    def close(self) -> None: ...

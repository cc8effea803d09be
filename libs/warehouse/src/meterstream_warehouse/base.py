"""The one interface to ClickHouse, with an embedded (chDB) and a server backend."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:  # pyarrow costs a process ~45 MB; the sink never needs it
    import pyarrow as pa

QueryParams = Mapping[str, Any]
"""Values bound server-side to `{name:Type}` placeholders; never formatted into SQL."""

JsonRows = bytes | Sequence[bytes]
"""NDJSON: one buffer, or pieces sent one after another without being joined first (the
sink's Kafka envelopes, each followed by its newline), so a batch is never copied whole."""


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
        self, table: str, data: JsonRows, *, dedup_token: str | None = None
    ) -> InsertResult:
        """Insert NDJSON (JSONEachRow) as it is; unknown fields are skipped."""

    def insert_arrow(
        self, table: str, batch: pa.Table, *, dedup_token: str | None = None
    ) -> InsertResult:
        """Insert an Arrow table; its column names are the target columns."""

    def close(self) -> None: ...

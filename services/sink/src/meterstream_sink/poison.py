"""The last resort: when ClickHouse still refuses validated events, store them one by one."""

from __future__ import annotations

from meterstream_contracts.derived import DeadLetter
from meterstream_sink.processor import TableBatch
from meterstream_warehouse import RejectedBatch, Warehouse


def store_line_by_line(warehouse: Warehouse, rows: TableBatch) -> tuple[int, list[DeadLetter]]:
    """Insert each event alone (with its own dedup token); returns (stored, dead letters)."""
    stored = 0
    letters: list[DeadLetter] = []
    for index, line in enumerate(rows.payload.splitlines()):
        try:
            warehouse.insert_json_rows(rows.table, line, dedup_token=f"{rows.dedup_token}:{index}")
            stored += 1
        except RejectedBatch as error:
            letters.append(
                DeadLetter(
                    source_topic=rows.table,
                    partition=-1,
                    offset=-1,
                    line=index,
                    reason=f"ClickHouse rejected the row: {str(error)[:500]}",
                    payload=line,
                )
            )
    return stored, letters

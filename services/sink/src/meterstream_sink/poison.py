"""The slow path: when ClickHouse refuses a batch, store events one by one to find the poison."""

from __future__ import annotations

from meterstream_contracts.derived import DeadLetter
from meterstream_sink.processor import ProcessedBatch, TableRows
from meterstream_warehouse import RejectedBatch, Warehouse


def split_poison(
    warehouse: Warehouse, rows: TableRows, processed: ProcessedBatch
) -> tuple[int, list[DeadLetter]]:
    """Insert each line alone (with its own dedup token); returns (stored, dead letters)."""
    stored = 0
    letters: list[DeadLetter] = []
    for index, line in enumerate(bytes(rows.payload).splitlines()):
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

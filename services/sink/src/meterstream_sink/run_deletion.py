"""Deleting a training run deletes its metrics: the sink acts on `status: deleted` records."""

from __future__ import annotations

import orjson

from meterstream_sink.processor import TableBatch
from meterstream_warehouse import Warehouse
from meterstream_warehouse.queries import delete_training_run


def deleted_runs(rows: TableBatch) -> set[tuple[str, str]]:
    """(project, run_id) of every run record in the batch whose status is `deleted`."""
    found: set[tuple[str, str]] = set()
    if b'"deleted"' not in rows.payload:
        return found
    for line in rows.payload.splitlines():
        if b'"deleted"' in line:
            record = orjson.loads(line)
            if record.get("status") == "deleted":
                found.add((str(record["project"]), str(record["run_id"])))
    return found


def delete_runs_marked_deleted(warehouse: Warehouse, rows: TableBatch) -> None:
    for project, run_id in sorted(deleted_runs(rows)):
        delete_training_run(warehouse, project=project, run_id=run_id)

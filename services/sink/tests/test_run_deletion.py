"""Which run records ask for their run's metrics to be deleted; no I/O."""

from __future__ import annotations

from meterstream_sink.processor import TableBatch
from meterstream_sink.run_deletion import deleted_runs


def test_only_deleted_status_counts() -> None:
    rows = TableBatch("training_runs", "training_run")
    rows.add(
        b'{"project":"p","run_id":"r1","status":"deleted"}\n'
        b'{"project":"p","run_id":"r2","status":"running","name":"deleted"}\n'
        b'{"project":"q","run_id":"r3","status":"finished"}'
    )
    assert deleted_runs(rows) == {("p", "r1")}

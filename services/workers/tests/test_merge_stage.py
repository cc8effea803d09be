"""The merge stage's working set across a restart and a rebalance. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from meterstream_contracts.derived import InferenceRollup
from meterstream_workers.merge_stage import MergeStage

START = datetime(2026, 11, 22, 10, tzinfo=UTC)


def partial(partial_id: str, count: int, seconds: int = 10) -> InferenceRollup:
    return InferenceRollup(
        project="p", model="m", window_start=START, window_seconds=seconds, count=count,
        partial_id=partial_id,
    )  # fmt: skip


def test_a_late_recovery_callback_keeps_what_was_absorbed_since_the_restart() -> None:
    before = MergeStage(allowed_lateness_s=10, retention_s=600, totals_window_s=10)
    table: dict[str, Any] = dict(before.absorb([partial("a", 5)], lambda key: None))
    snapshot = dict(table)  # what faust's on_recover iterates
    restarted = MergeStage(allowed_lateness_s=10, retention_s=600, totals_window_s=10)
    table.update(restarted.absorb([partial("b", 7)], table.get))  # the agent ran first
    for key, state in snapshot.items():
        restarted.recover(key, state)
    windows, totals = restarted.due()
    assert [w.count for w in windows] == [12]
    assert [t.count for t in totals] == [12]
    # a state the agent has not touched since the restart comes back from the table
    fresh = MergeStage(allowed_lateness_s=10, retention_s=600, totals_window_s=10)
    for key, state in table.items():
        fresh.recover(key, state)
    assert [w.count for w in fresh.due()[0]] == [12]


def test_a_partition_that_comes_back_is_read_from_the_table_not_from_memory() -> None:
    """Worker A merges, loses the partition to B (which merges more into the table), and
    gets it back: A's totals and windows are the table's, then A's next partial adds."""
    a = MergeStage(allowed_lateness_s=10, retention_s=600, totals_window_s=10)
    table: dict[str, Any] = dict(a.absorb([partial("1:0", 5)], lambda key: None))
    a.due()
    b = MergeStage(allowed_lateness_s=10, retention_s=600, totals_window_s=10)
    table.update(b.absorb([partial("1:1", 7)], table.get))  # B owns the partition
    a.forget_all()  # the rebalance that gave it to B, and back
    for key, state in table.items():
        a.recover(key, state)
    table.update(a.absorb([partial("1:2", 3)], table.get))
    windows, totals = a.due()
    assert [w.count for w in windows] == [15]
    assert [t.count for t in totals] == [15]

"""The merge stage's working set across a restart. No I/O."""

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

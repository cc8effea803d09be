"""The history join: a row per log, spend joined to its log whenever it arrives. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from meterstream_contracts import ApiCost, GpuCost, TokenUsage, TrainingStep
from meterstream_derivations.history import (
    KEEP_LOGS,
    ORPHAN_AFTER,
    HistoryRow,
    RunHistory,
    latest_rows,
    replay_history,
)
from meterstream_derivations.training import StepInputs, derive_history

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def log(step: int, split: str = "train", log_id: UUID | None = None) -> TrainingStep:
    return TrainingStep(
        project="p",
        run_id="r",
        step=step,
        split=split,
        builder_metrics={"time/step_trainer_s": 1.0},
        log_id=log_id,
        time=T0,
    )


def spend(
    usd: float, *, split: str = "train", step: int = 0, log_id: UUID | None = None
) -> ApiCost:
    return ApiCost(
        project="p",
        run_id="r",
        step=step,
        split=split,
        log_id=log_id,
        source="judge",
        provider="x",
        model="y",
        usage=TokenUsage(),
        cost_usd=usd,
        time=T0,
    )


def add(run: RunHistory, cost: ApiCost) -> list[HistoryRow]:
    assert cost.cost_usd is not None
    return run.add_api_cost(cost, cost.cost_usd)


def test_train_and_val_at_one_step_are_two_rows_each_with_its_spend() -> None:
    run = RunHistory()
    train_id, val_id = uuid4(), uuid4()
    add(run, spend(1.0, log_id=train_id))
    add(run, spend(0.25, split="eval", log_id=val_id))
    train = run.add_step(log(3, log_id=train_id))
    val = run.add_step(log(3, "val", log_id=val_id))
    assert (train.step, train.seq, val.step, val.seq) == (3, 0, 3, 1)
    assert train.metrics["costs/train/judge"] == 1.0
    assert "costs/eval/judge" not in train.metrics
    assert val.metrics["costs/eval/judge"] == 0.25
    assert val.metrics["costs/all"] == 0.25
    assert val.metrics["costs/cum/all"] == 1.25  # totals are the run's, across splits


def test_spend_after_its_log_corrects_that_row_and_the_later_ones() -> None:
    run = RunHistory()
    first_id = uuid4()
    first = run.add_step(log(0, log_id=first_id))
    second = run.add_step(log(1, log_id=uuid4()))
    assert "costs/all" not in first.metrics
    corrected = add(run, spend(2.0, log_id=first_id))
    assert [(r.seq, r.revision) for r in corrected] == [(0, 2), (1, 2)]
    assert corrected[0].metrics["costs/train/judge"] == 2.0
    assert corrected[1].metrics["time/cum/trainer_s"] == second.metrics["time/cum/trainer_s"]
    assert "costs/cum/all" not in corrected[1].metrics  # no spend in that log itself
    again = add(run, spend(1.0, log_id=first_id))
    assert latest_rows([first, second, *corrected, *again])[0].revision == 3
    assert again[0].metrics["costs/cum/all"] == 3.0


def test_corrections_survive_the_state_round_trip() -> None:
    run = RunHistory()
    late_id = uuid4()
    run.add_step(log(0, log_id=late_id))
    restored = RunHistory.from_state(run.state())
    (row,) = add(restored, spend(0.5, log_id=late_id))
    assert (row.seq, row.revision, row.metrics["costs/all"]) == (0, 2, 0.5)


def test_spend_for_a_log_too_old_to_correct_joins_a_later_log() -> None:
    run = RunHistory()
    old_id = uuid4()
    run.add_step(log(0, log_id=old_id))
    for step in range(1, KEEP_LOGS + 1):
        run.add_step(log(step))
    assert add(run, spend(1.0, log_id=old_id)) == []  # waiting: nothing lost
    rows = [run.add_step(log(KEEP_LOGS + n)) for n in range(ORPHAN_AFTER + 1)]
    joined = [r for r in rows if "costs/train/judge" in r.metrics]
    assert len(joined) == 1
    assert rows[-1].metrics["costs/cum/all"] == 1.0


def test_spend_naming_no_log_joins_the_next_log_of_its_scope_at_or_past_its_step() -> None:
    run = RunHistory()
    add(run, spend(1.0, split="eval", step=2))
    add(run, spend(0.5, step=2))
    assert "costs/all" not in run.add_step(log(1)).metrics  # step 1 < 2
    train = run.add_step(log(2))
    val = run.add_step(log(2, "test"))
    assert train.metrics["costs/all"] == 0.5
    assert val.metrics["costs/all"] == 1.0


def test_a_split_other_than_train_val_test_is_wholly_under_its_name() -> None:
    run = RunHistory()
    step = log(0, "discarded")
    row = run.add_step(step.model_copy(update={"metrics": {"discarded/reward": 0.5}}))
    assert row.metrics == {
        "discarded/reward": 0.5,
        "discarded/time/step_trainer_s": 1.0,
        "discarded/time/cum/trainer_s": 1.0,
        "training_step": 0.0,  # ART adds it after naming the others
    }


def test_a_replay_of_spend_and_logs_equals_art_s_derivation_of_the_same_inputs() -> None:
    """Spend naming no log: before its step it joins that step's log; after, the next one."""
    gpu = GpuCost(
        project="p",
        run_id="r",
        step=0,
        gpu_type="H100",
        gpu_count=2,
        seconds=1800,
        price_per_hour_usd=3.0,
        time=T0,
    )
    events: list[TrainingStep | ApiCost | GpuCost] = [
        spend(0.5),
        gpu,
        log(0),
        spend(0.25),
        log(1),
        log(1),
    ]
    usd = {str(e.event_id): e.cost_usd for e in events if isinstance(e, ApiCost) and e.cost_usd}
    rows = replay_history(events, api_cost_usd=usd)
    assert [(r.step, r.seq) for r in rows] == [(0, 0), (1, 1), (1, 2)]  # a row per log
    expected = derive_history(
        [
            StepInputs({}, api_costs=[("train", "judge", 0.5)], gpu_costs_usd=[3.0],
                       builder_metrics={"time/step_trainer_s": 1.0}),
            StepInputs({}, api_costs=[("train", "judge", 0.25)],
                       builder_metrics={"time/step_trainer_s": 1.0}),
        ]
    )  # fmt: skip
    assert [row.metrics for row in rows[:2]] == [
        {**e, "training_step": n} for n, e in enumerate(expected)
    ]
    assert rows[1].metrics["costs/cum/all"] == 3.75  # 0.5 + 3 (2 GPUs, half an hour) + 0.25


def test_a_run_state_skips_a_replayed_message() -> None:
    run = RunHistory()
    assert run.first_time("steps:0", 5)
    assert not run.first_time("steps:0", 5)
    restored = RunHistory.from_state(run.state())
    assert not restored.first_time("steps:0", 4)
    assert restored.first_time("costs:0", 1)

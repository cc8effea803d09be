"""Golden training run: every expected number is worked out by hand below, not read from code."""

from __future__ import annotations

import pytest

from meterstream_derivations import RunDerivation, StepInputs, derive_history
from meterstream_derivations.training import cost_rollups, cumulative_key

STEPS = [
    StepInputs(
        metrics={
            "train/reward": 0.5,
            "train/correct": 0.25,  # an average of trajectory metrics, logged as is
            "time/step_trainer_s": 10.0,
            "time/step_actor_s": 4.0,
            "data/step_trainer_tokens": 2000.0,
            "data/step_actor_tokens": 800.0,
            "throughput/step_actor_idle_s": 1.5,
            "time/wall_clock_sec": 100.0,  # not builder-managed: no cumulative
        },
        scenario_ids=["a", "b"],
        api_costs=[
            ("train", "llm_judge/correctness", 0.02),
            ("train", "llm_judge/style", 0.01),
            ("eval", "llm_judge/correctness", 0.005),
        ],
        gpu_costs_usd=[0.5],
    ),
    StepInputs(
        metrics={
            "train/reward": 0.7,
            "time/step_trainer_s": 30.0,
            "data/step_trainer_tokens": 4000.0,
        },
        scenario_ids=["b", "c"],
        api_costs=[("train", "llm_judge/correctness", 0.04)],
    ),
    StepInputs(metrics={"val/reward": 0.65}),
]


def test_first_step() -> None:
    row = derive_history(STEPS)[0]
    assert row["costs/train/llm_judge/correctness"] == pytest.approx(0.02)
    assert row["costs/train/llm_judge"] == pytest.approx(0.03)
    assert row["costs/train"] == pytest.approx(0.03)
    assert row["costs/eval"] == pytest.approx(0.005)
    assert row["costs/gpu"] == pytest.approx(0.5)
    assert row["costs/all"] == pytest.approx(0.535)  # 0.03 + 0.005 + 0.5
    assert row["costs/cum/all"] == pytest.approx(0.535)
    assert row["costs/cum/train"] == pytest.approx(0.03)
    assert row["time/cum/trainer_s"] == 10.0
    assert row["time/cum/actor_s"] == 4.0
    assert row["data/cum/trainer_tokens"] == 2000.0
    assert row["data/cum/num_unique_scenarios"] == 2.0
    assert row["throughput/cum/actor_idle_s"] == 1.5
    assert row["throughput/avg_trainer_tok_per_s"] == pytest.approx(200.0)  # 2000 / 10
    assert row["throughput/avg_actor_tok_per_s"] == pytest.approx(200.0)  # 800 / 4
    assert "time/cum/wall_clock_sec" not in row
    assert row["train/correct"] == 0.25


def test_second_step_accumulates() -> None:
    row = derive_history(STEPS)[1]
    assert row["costs/all"] == pytest.approx(0.04)
    assert row["costs/cum/all"] == pytest.approx(0.575)  # 0.535 + 0.04
    assert row["costs/cum/train"] == pytest.approx(0.07)
    assert "costs/cum/eval" not in row  # eval spent nothing this step
    assert row["time/cum/trainer_s"] == 40.0
    assert row["data/cum/num_unique_scenarios"] == 3.0  # a, b, c
    assert row["throughput/avg_trainer_tok_per_s"] == pytest.approx(150.0)  # 6000 / 40
    assert "throughput/avg_actor_tok_per_s" not in row  # no actor input this step


def test_a_step_without_inputs_derives_nothing() -> None:
    assert derive_history(STEPS)[2] == {"val/reward": 0.65}


def test_throughput_needs_both_tokens_and_seconds() -> None:
    row = RunDerivation().derive(StepInputs(metrics={"data/step_actor_tokens": 500.0}))
    assert "throughput/avg_actor_tok_per_s" not in row


def test_state_round_trips_so_a_restarted_worker_continues_the_same_totals() -> None:
    straight = derive_history(STEPS)
    first = RunDerivation()
    first.derive(STEPS[0])
    resumed = RunDerivation.from_state(first.state())
    assert [resumed.derive(STEPS[1]), resumed.derive(STEPS[2])] == straight[1:]


def test_key_helpers() -> None:
    assert cumulative_key("time/step_trainer_s") == "time/cum/trainer_s"
    assert cumulative_key("data/step_num_scenarios") == "data/cum/num_scenarios"
    assert cost_rollups({"costs/gpu": 1.0}) == {"costs/all": 1.0}

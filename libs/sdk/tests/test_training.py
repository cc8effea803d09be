"""ART-style training logging; expected values are computed by hand in each test. No I/O."""

from __future__ import annotations

import pytest

from meterstream_contracts import ApiCost, GpuCost, TrainingRun, TrainingStep
from meterstream_sdk import AsyncClient, InvalidValue, track_api_cost
from meterstream_sdk.testing import RecordingTransport
from meterstream_sdk.trajectories import Trajectory, TrajectoryGroup

Offline = tuple[AsyncClient, RecordingTransport]


async def test_each_call_advances_the_step_and_builder_metrics_join_the_next_step(
    offline: Offline,
) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r", run_id="run-1")
    builder = run.metrics_builder("train")
    with builder.measure("time/step_actor_s"):
        pass
    builder.add_data(step_actor_tokens=1200, scenario_ids=["s1", "s2"])
    assert run({"train/loss": 1.0}) == 0
    assert run({"train/loss": 0.5}) == 1
    await client._emitter.flush()
    steps = [e for e in transport.events() if isinstance(e, TrainingStep)]
    assert [s.step for s in steps] == [0, 1]
    assert steps[0].builder_metrics["data/step_actor_tokens"] == 1200
    assert "time/step_actor_s" in steps[0].builder_metrics
    assert steps[0].scenario_ids == ["s1", "s2"]
    assert steps[1].builder_metrics == {}
    assert steps[0].log_id != steps[1].log_id
    await client._emitter.close()


async def test_trajectory_and_group_metrics_are_averaged_under_the_split(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r")
    run.log_trajectories(
        [
            {"correct": 1.0, "tool_calls": 2.0},
            {"correct": 0.0, "tool_calls": 4.0},
            {"correct": 1.0},
        ],
        split="val",
        groups=[{"difficulty": 0.2}, {"difficulty": 0.6}],
    )
    await client._emitter.flush()
    (step,) = [e for e in transport.events() if isinstance(e, TrainingStep)]
    assert step.metrics["val/correct"] == pytest.approx(2 / 3)
    assert step.metrics["val/tool_calls"] == pytest.approx(3.0)
    assert step.metrics["val/group_difficulty"] == pytest.approx(0.4)
    assert step.metrics["data/step_num_trajectories"] == 3
    assert step.metrics["data/step_num_groups_submitted"] == 2
    await client._emitter.close()


async def test_api_cost_is_priced_and_attributed_to_the_active_split(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r")
    run.metrics_builder("eval").register_model_pricing(
        "anthropic/my-judge", prompt_per_million=1.2, completion_per_million=4.8
    )

    @track_api_cost(
        source="llm_judge/correctness", provider="anthropic", model_name="anthropic/my-judge"
    )
    def judge() -> dict[str, object]:
        return {
            "usage": {"input_tokens": 900, "output_tokens": 100, "cache_read_input_tokens": 100}
        }

    with run.metrics_builder("eval").activate_context():
        judge()
    judge()  # outside any context: not attributed, not logged
    await client._emitter.flush()
    (cost,) = [e for e in transport.events() if isinstance(e, ApiCost)]
    assert (cost.split, cost.source, cost.model) == ("eval", "llm_judge/correctness", "my-judge")
    assert cost.usage.input_tokens == 1000
    assert cost.cost_usd == pytest.approx((1000 * 1.2 + 100 * 4.8) / 1e6)
    assert cost.price_version == "anthropic/my-judge@1970-01-01"
    await client._emitter.close()


async def test_gpu_cost_defaults_and_run_lifecycle(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r", gpu_cost_per_hour_usd=2.25)
    run.track_gpu(3600.0, gpu_count=2)
    run.delete()
    await client._emitter.flush()
    (gpu,) = [e for e in transport.events() if isinstance(e, GpuCost)]
    assert (gpu.price_per_hour_usd, gpu.gpu_count, gpu.seconds) == (2.25, 2, 3600.0)
    statuses = [e.status for e in transport.events() if isinstance(e, TrainingRun)]
    assert statuses == ["running", "deleted"]
    await client._emitter.close()


async def test_builder_values_are_checked_and_named_like_art(offline: Offline) -> None:
    client, _ = offline
    run = client.init_run(name="r")
    builder = run.metrics_builder("train")
    for bad in ("loss", "time/cum/trainer_s"):
        with pytest.raises(InvalidValue, match="section/name"):
            builder.add_metric(bad, 1.0)
    with pytest.raises(InvalidValue, match="finite"):
        builder.add_metric("time/step_x_s", float("nan"))
    builder.add_cost("/train/judge/", 0.5)
    builder.add_user_timing(step_wall_s=3.0, step_eval_s=None)
    assert builder.take()[0] == {"costs/train/judge": 0.5, "time/step_wall_s": 3.0}


async def test_val_and_test_share_the_eval_builder_and_spend_names_its_log(
    offline: Offline,
) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r")
    assert run.metrics_builder("val") is run.metrics_builder("test")
    run.metrics_builder("val").add_metric("time/step_eval_s", 2.0)
    with run.metrics_builder("val").activate_context():
        run.track_gpu(60, price_per_hour_usd=3.0)
    run.log({"loss": 0.5, "loss/grad_norm": 1.0, "costs/eval/x": 0.25}, split="test", step=4)
    run.log({"train/loss": 1.0}, step=4)  # a train log at the same step takes nothing of it
    await client._emitter.flush()
    events = transport.events()
    test_log, train_log = [e for e in events if isinstance(e, TrainingStep)]
    (gpu,) = [e for e in events if isinstance(e, GpuCost)]
    assert (test_log.step, test_log.split, train_log.step) == (4, "test", 4)
    assert test_log.metrics.pop("time/wall_clock_sec") >= 0  # as ART: since the Run began
    assert test_log.metrics == {"test/loss": 0.5, "loss/grad_norm": 1.0}
    assert test_log.builder_metrics == {"time/step_eval_s": 2.0, "costs/eval/x": 0.25}
    assert (gpu.split, gpu.log_id) == ("eval", test_log.log_id)
    assert train_log.builder_metrics == {}
    await client._emitter.close()


async def test_groups_give_art_s_automatic_keys(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    run = client.init_run(name="r")
    groups = [
        TrajectoryGroup([Trajectory(1.0), Trajectory(0.0)], metadata={"scenario_id": "a"}),
        TrajectoryGroup([], exceptions=["timeout", "timeout"]),
    ]
    run.log_groups(groups, split="train", step=0)
    await client._emitter.flush()
    (log,) = [e for e in transport.events() if isinstance(e, TrainingStep)]
    del log.metrics["time/wall_clock_sec"]
    assert log.metrics == {
        "train/reward": 0.5,
        "train/exception_rate": 0.5,
        "train/reward_std_dev": 0.5,
    }
    assert log.builder_metrics == {
        "data/step_num_scenarios": 2.0,
        "data/step_num_trajectories": 4.0,
        "data/step_num_groups_submitted": 2.0,
        "data/step_num_groups_trainable": 1.0,
    }
    assert log.scenario_ids == ["a"]
    await client._emitter.close()

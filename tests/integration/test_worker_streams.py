"""Merged windows, cumulative totals, training history and feedback from the real broker,
across a worker SIGKILL: each equals a recomputation from the events that were produced."""

from __future__ import annotations

import asyncio
import math
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from meterstream_cli.registry_ops import pricing_registry
from meterstream_contracts import (
    TOPICS,
    ApiCost,
    Completion,
    Event,
    GpuCost,
    MetricValue,
    TokenUsage,
    TrainingStep,
    split_envelope,
)
from meterstream_contracts.derived import (
    FeedbackRollup,
    InferenceWindow,
    TrainingHistory,
    UsageTotals,
)
from meterstream_derivations.sketch import QuantileSketch
from meterstream_derivations.training import StepInputs, derive_history
from meterstream_kafka import KafkaConfig, apply_topics, end_offsets, start_group_at_end
from meterstream_pricing import PricingRegistry, Usage
from tests.integration.kafka_io import read_from
from tests.integration.test_workers import start_worker
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

DERIVED = [spec.name for spec in TOPICS.with_role("derived")]
MODELS = ("gpt-4o-mini", "gpt-4o")


def completions(project: str, count: int) -> list[Completion]:
    start = datetime.now(UTC) - timedelta(minutes=3)
    return [
        Completion(
            project=project,
            model=MODELS[i % 2],
            provider="openai",
            time=start + timedelta(milliseconds=23 * i),
            started_at=start,
            latency_ms=100.0 + (i * 7919) % 3000,
            ttft_ms=40.0 + i % 60,
            input_tokens=100 + i % 50,
            output_tokens=20 + i % 7,
            cached_tokens=i % 30,
            status="error" if i % 13 == 0 else "ok",
        )
        for i in range(count)
    ]


def training_run(project: str, steps: int) -> tuple[list[Event], list[Event]]:
    """(spend, steps) of one run: API spend in train and eval, GPU time, three metrics."""
    now = datetime.now(UTC)
    spend: list[Event] = []
    for step in range(steps):
        spend.append(
            ApiCost(
                project=project,
                run_id="run-1",
                step=step,
                split="train" if step % 2 else "eval",
                source="judge",
                provider="openai",
                model="gpt-4o-mini",
                usage=TokenUsage(input_tokens=1000 * (step + 1), output_tokens=100),
                time=now,
            )
        )
        spend.append(
            GpuCost(
                project=project,
                run_id="run-1",
                step=step,
                gpu_type="H100",
                gpu_count=2,
                seconds=30.0 + step,
                price_per_hour_usd=2.5,
                time=now,
            )
        )
    rows: list[Event] = [
        TrainingStep(
            project=project,
            run_id="run-1",
            step=step,
            metrics={
                "train/reward": 0.1 * step,
                "time/step_trainer_s": 2.0 + step,
                "data/step_trainer_tokens": 1000.0 * (step + 1),
            },
            scenario_ids=[f"s{step % 3}", f"s{step}"],
            time=now,
        )
        for step in range(steps)
    ]
    # ART's loop: a val log after the train log of the same step, taking the eval spend
    logs: list[Event] = []
    for step, row in enumerate(rows):
        logs.append(row)
        if step % 2 == 0:
            logs.append(
                TrainingStep(
                    project=project,
                    run_id="run-1",
                    step=step,
                    split="val",
                    metrics={"val/reward": 0.05 * step},
                    builder_metrics={"time/step_eval_s": 1.5},
                    time=now,
                )
            )
    return spend, logs


def decoded(values: list[bytes], model: type[Any], keep: Callable[[Any], bool]) -> list[Any]:
    records = []
    for value in values:
        for line in split_envelope(value):
            record = orjson.loads(line)
            if record.get("kind") == model.model_fields["kind"].default:
                parsed = model.model_validate(record)
                if keep(parsed):
                    records.append(parsed)
    return records


def latest_totals(values: list[bytes], project: str) -> dict[str, UsageTotals]:
    latest: dict[str, UsageTotals] = {}
    for totals in decoded(values, UsageTotals, lambda t: t.project == project):
        if totals.model not in latest or latest[totals.model].revision <= totals.revision:
            latest[totals.model] = totals
    return latest


def expected_totals(
    calls: list[Completion], pricing: PricingRegistry
) -> dict[str, tuple[int, int, int, int, float]]:
    sums: dict[str, list[float]] = {}
    for call in calls:
        cost = pricing.price_at("openai", call.model, call.time).cost_usd(
            Usage(call.input_tokens, call.output_tokens, call.cached_tokens)
        )
        for name in (call.model, ""):
            row = sums.setdefault(name, [0, 0, 0, 0, 0.0])
            row[0] += 1
            row[1] += call.status != "ok"
            row[2] += call.input_tokens
            row[3] += call.output_tokens
            row[4] += cost
    return {k: (int(v[0]), int(v[1]), int(v[2]), int(v[3]), v[4]) for k, v in sums.items()}


def as_tuple(totals: UsageTotals) -> tuple[int, int, int, int, float]:
    return (
        totals.count,
        totals.errors,
        totals.input_tokens,
        totals.output_tokens,
        totals.cost_usd,
    )


def totals_match(got: dict[str, UsageTotals], expected: dict[str, tuple[Any, ...]]) -> bool:
    if set(got) != set(expected):
        return False
    for name, want in expected.items():
        have = as_tuple(got[name])
        if have[:4] != want[:4] or not math.isclose(have[4], want[4], rel_tol=1e-9):
            return False
    return True


def assert_windows_recomputed(values: list[bytes], project: str, calls: list[Completion]) -> None:
    """The latest revision of each merged window equals the window recomputed from the calls."""
    latest: dict[tuple[str, int, datetime], InferenceWindow] = {}
    for window in decoded(values, InferenceWindow, lambda w: w.project == project):
        key = (window.model, window.window_seconds, window.window_start)
        if key not in latest or latest[key].revision <= window.revision:
            latest[key] = window
    for length in (10, 60):
        for model in MODELS:
            mine = [c for c in calls if c.model == model]
            by_window: dict[datetime, list[Completion]] = {}
            for call in mine:
                epoch = int(call.time.timestamp())
                by_window.setdefault(
                    datetime.fromtimestamp(epoch - epoch % length, UTC), []
                ).append(call)
            for start_at, members in by_window.items():
                window = latest[(model, length, start_at)]
                assert window.count == len(members)
                assert window.input_tokens == sum(c.input_tokens for c in members)
                sketch = QuantileSketch()
                sketch.extend(c.latency_ms for c in members)
                assert window.latency_bins == sketch.bins
                assert window.latency_p99_ms == sketch.quantile(0.99)


def assert_history_recomputed(
    values: list[bytes],
    project: str,
    spend: list[Event],
    steps: list[Event],
    pricing: PricingRegistry,
) -> None:
    """One history row per log (train and val at one step are two), each at its latest
    revision equal to ART's derivation of the same inputs."""
    histories: dict[int, TrainingHistory] = {}
    for h in decoded(values, TrainingHistory, lambda h: h.project == project):
        if h.seq not in histories or h.revision >= histories[h.seq].revision:
            histories[h.seq] = h
    inputs = []
    for step in steps:
        assert isinstance(step, TrainingStep)
        scope = "eval" if step.split == "val" else "train"
        api = [
            c for c in spend if isinstance(c, ApiCost) and c.step == step.step and c.split == scope
        ]
        gpu = [c for c in spend if isinstance(c, GpuCost) and c.step == step.step]
        inputs.append(
            StepInputs(
                metrics=step.metrics,
                builder_metrics=step.builder_metrics,
                scenario_ids=step.scenario_ids,
                api_costs=[
                    (
                        c.split,
                        c.source,
                        pricing.price_at(c.provider, c.model).cost_usd(
                            Usage(c.usage.input_tokens, c.usage.output_tokens)
                        ),
                    )
                    for c in api
                ],
                gpu_costs_usd=[g.seconds / 3600 * 2.5 * 2 for g in gpu if scope == "train"],
            )
        )
    assert sorted(histories) == list(range(len(steps)))
    for seq, derived in enumerate(derive_history(inputs)):
        got = histories[seq]
        want = {**derived, "training_step": float(got.step)}
        assert (got.step, got.split) == (steps[seq].step, steps[seq].split)  # type: ignore[attr-defined]
        assert set(got.metrics) == set(want)
        for key, value in want.items():
            assert math.isclose(got.metrics[key], value, rel_tol=1e-9), (seq, key)


def test_derived_streams_equal_a_recomputation_across_a_worker_sigkill(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    start = asyncio.run(end_offsets(kafka_config, DERIVED))
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    calls = completions(project_name, 8000)
    spend, steps = training_run(project_name, 6)
    feedback: list[Event] = [
        MetricValue(project=project_name, completion_id=f"c{i}", key="thumbs_up", value=i % 3 == 0)
        for i in range(300)
    ]
    asyncio.run(publish(kafka_config, [*calls[:4000], *spend, *feedback], per_envelope=100))

    worker = start_worker(kafka_config, app_id, tmp_path / "worker-1.log")
    try:
        # the shared registry as the worker sees it (other tests publish price versions too)
        pricing = asyncio.run(pricing_registry(kafka_config))
        expected = expected_totals(calls, pricing)

        def some_totals(values: list[bytes]) -> bool:
            return bool(latest_totals(values, project_name))

        asyncio.run(read_from(kafka_config, start, until=some_totals, within_s=60))
        asyncio.run(publish(kafka_config, [*calls[4000:], *steps], per_envelope=100))
    finally:
        worker.kill()  # mid-stream: states written, offsets maybe not committed, emissions pending
    assert worker.returncode == -signal.SIGKILL
    restarted = start_worker(kafka_config, app_id, tmp_path / "worker-2.log")

    def done(values: list[bytes]) -> bool:
        histories = decoded(values, TrainingHistory, lambda h: h.project == project_name)
        return totals_match(latest_totals(values, project_name), expected) and {
            h.seq for h in histories
        } == set(range(len(steps)))

    try:
        values = asyncio.run(read_from(kafka_config, start, until=done, within_s=120))
        histories = decoded(values, TrainingHistory, lambda h: h.project == project_name)
        got = {k: as_tuple(v) for k, v in latest_totals(values, project_name).items()}
        assert done(values), (got, expected, sorted({h.seq for h in histories}))
        time.sleep(1.5)  # the windows' last emissions
        values = asyncio.run(read_from(kafka_config, start, until=lambda v: False, within_s=5))
    finally:
        restarted.stop()
    totals = latest_totals(values, project_name)
    assert totals_match(totals, expected), {k: as_tuple(v) for k, v in totals.items()}

    assert_windows_recomputed(values, project_name, calls)
    assert_history_recomputed(values, project_name, spend, steps, pricing)

    # feedback: per window, count and true count of the bool key
    partials = decoded(
        values,
        FeedbackRollup,
        lambda f: f.project == project_name and f.window_seconds == 60,
    )
    unique = {(p.partial_id, p.window_start): p for p in partials}.values()
    assert sum(p.count for p in unique) == 300
    assert sum(p.true_count for p in unique) == 100

"""Each kind of example rule fires when its condition is produced and resolves when it clears,
through a worker on the real broker (the examples' shapes, with short windows and baselines)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from meterstream_contracts import TOPICS, Completion, Event, TrainingStep
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from tests.integration.test_alerts import start
from tests.integration.webhook_receiver import Receiver
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def window_calls(
    project: str,
    model: str,
    start: datetime,
    *,
    latency: float = 100.0,
    ttft: float = 50.0,
    errors: int = 0,
    count: int = 40,
    input_tokens: int = 0,
    output_tokens: int = 0,
) -> list[Event]:
    return [
        Completion(
            project=project,
            model=model,
            provider="openai",
            time=start + timedelta(milliseconds=200 * i),
            started_at=start,
            latency_ms=latency,
            ttft_ms=ttft,
            status="error" if i < errors else "ok",
            input_tokens=input_tokens,
            output_tokens=output_tokens,
        )
        for i in range(count)
    ]


def test_every_kind_of_example_rule_fires_and_resolves(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, webhook: Receiver
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    mine = {"project": project_name}
    rules = [
        {
            "id": "errors",
            "source": "inference_windows",
            "window_seconds": 10,
            "where": {**mine, "model": "e"},
            "metric": "error_rate",
            "threshold": 0.2,
            "min_count": 10,
        },
        {
            "id": "ttft-drift",
            "source": "inference_windows",
            "window_seconds": 10,
            "where": {**mine, "model": "d"},
            "metric": "ttft_p50_ms",
            "condition": "drift",
            "threshold": 1.0,
            "baseline_points": 4,
            "min_count": 10,
        },
        {
            "id": "reward-collapse",
            "source": "training_history",
            "where": mine,
            "metric": "train/reward",
            "condition": "drift",
            "threshold": 0.5,
            "baseline_points": 4,
        },
        {
            "id": "cost-burn",
            "source": "usage_totals",
            "where": {**mine, "model": ""},
            "metric": "cost_usd",
            "condition": "rate_of_change",
            "per_seconds": 3600,
            "threshold": 100,
        },
        {
            "id": "silent",
            "source": "inference_windows",
            "window_seconds": 10,
            "where": {**mine, "model": "s"},
            "condition": "absence",
            "absent_for_s": 4,
        },
    ]
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"rules": rules}))
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    base -= timedelta(seconds=base.timestamp() % 60)
    events: list[Event] = []
    for n in range(8):  # eight windows: errors and spend in the 3rd, a TTFT jump in the 6th
        at = base + timedelta(seconds=10 * n)
        events += window_calls(project_name, "e", at, errors=20 if n == 2 else 0)
        events += window_calls(project_name, "d", at, latency=900.0, ttft=400.0 if n == 5 else 50.0)

    rewards = [0.8, 0.8, 0.8, 0.8, 0.1, 0.8]
    steps = [
        TrainingStep(project=project_name, run_id="r", step=i, metrics={"train/reward": r})
        for i, r in enumerate(rewards)
    ]
    worker = start(kafka_config, app_id, tmp_path, path, url, n=1)
    try:
        asyncio.run(publish(kafka_config, events, per_envelope=40))
        for step in steps:  # one message each: the history's event time is its append time
            asyncio.run(publish(kafka_config, [step]))
        for minute in range(5):
            # Spend a minute apart, each sent on its own (totals of one batch are emitted
            # once). At gpt-4o list prices 20 calls of 100k input + 10k output tokens cost
            # 7 USD: over 400 USD/h in the 3rd minute; the other minutes spend 0.4 USD/h.
            heavy = minute == 2
            spend = window_calls(
                project_name, "gpt-4o", base + timedelta(minutes=minute), count=20,
                input_tokens=100_000 if heavy else 100, output_tokens=10_000 if heavy else 10,
            )  # fmt: skip
            asyncio.run(publish(kafka_config, spend, per_envelope=20))
            time.sleep(1.5)
        now = datetime.now(UTC)
        asyncio.run(
            publish(kafka_config, window_calls(project_name, "s", now - timedelta(seconds=8)))
        )
        time.sleep(12)  # model "s" goes silent
        asyncio.run(publish(kafka_config, window_calls(project_name, "s", datetime.now(UTC))))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            seen = {(body["rule_id"], body["state"]) for _, body in webhook.calls}
            if len(seen) == 2 * len(rules):
                break
            time.sleep(0.5)
    finally:
        worker.stop()
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for _, body in webhook.calls:
        by_rule.setdefault(body["rule_id"], []).append((body["state"], body["dedup_key"]))
    for rule in rules:
        found = by_rule.get(str(rule["id"]), [])
        # the first episode: fired, then resolved under the same key (a silent group may
        # go silent again once the test stops producing)
        assert [state for state, _ in found[:2]] == ["firing", "resolved"], (rule["id"], found)
        assert found[0][1] == found[1][1]

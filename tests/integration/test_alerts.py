"""Alert rules on a running worker against the real broker, notifying a webhook on 127.0.0.1:
one notification per transition, even across a worker SIGKILL and restart."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from meterstream_cli.processes import ServiceProcess, worker_process
from meterstream_contracts import TOPICS, Completion, Event
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from tests.integration.webhook_receiver import Receiver
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def calls(project: str, start: datetime, seconds: int, latency_ms: float) -> list[Event]:
    return [
        Completion(
            project=project,
            model="m",
            provider="openai",
            time=start + timedelta(milliseconds=100 * i),
            started_at=start,
            latency_ms=latency_ms,
            ttft_ms=50.0,
        )
        for i in range(seconds * 10)
    ]


def start(
    kafka: KafkaConfig, app_id: str, tmp: Path, rules: Path, url: str, *, n: int
) -> ServiceProcess:
    worker = worker_process(
        kafka,
        app_id=app_id,
        data_dir=tmp / "state",
        log_path=tmp / f"worker-{n}.log",
        env={"MS_WORKER_ALERT_RULES": str(rules), "MS_WORKER_ALERT_WEBHOOK_URL": url},
    )
    worker.wait_for_line("workers ready", timeout=120)
    return worker


def wait_for(webhook: Receiver, count: int, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while len(webhook.calls) < count and time.monotonic() < deadline:
        time.sleep(0.2)


# Not yet dependable: in 1 of 4 full runs on 2026-12-04 the webhook received the same
# `firing` notification twice after the worker's SIGKILL (a send not yet recorded when the
# worker died). Runs under `make reliability` until that window is closed.
@pytest.mark.reliability_full
def test_a_rule_fires_and_resolves_once_each_across_a_sigkill(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, webhook: Receiver
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "slow",
                        "source": "inference_windows",
                        "window_seconds": 10,
                        "where": {"project": project_name},
                        "metric": "latency_p95_ms",
                        "threshold": 1000,
                        "for_s": 10,
                        "severity": "critical",
                    }
                ]
            }
        )
    )
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    now = datetime.now(UTC).replace(microsecond=0)
    base = now - timedelta(seconds=now.timestamp() % 10 + 90)  # a window start, 90 s ago
    worker = start(kafka_config, app_id, tmp_path, rules, url, n=1)
    try:
        asyncio.run(publish(kafka_config, calls(project_name, base, 30, 2500.0)))
        wait_for(webhook, 1, 60)
        assert [body["state"] for _, body in webhook.calls] == ["firing"], worker.tail()
    finally:
        worker.kill()  # states, offsets and the notification table as they happen to be
    assert worker.returncode == -signal.SIGKILL
    restarted = start(kafka_config, app_id, tmp_path, rules, url, n=2)
    try:
        time.sleep(3)  # whatever the restart replays must not notify again
        assert len(webhook.calls) == 1
        later = base + timedelta(seconds=30)
        asyncio.run(publish(kafka_config, calls(project_name, later, 20, 100.0)))
        wait_for(webhook, 2, 60)
        time.sleep(3)
    finally:
        restarted.stop()
    (firing_key, firing), (resolved_key, resolved) = webhook.calls
    assert [firing["state"], resolved["state"]] == ["firing", "resolved"]
    assert firing["dedup_key"] == resolved["dedup_key"]
    assert firing_key == f"{firing['dedup_key']}:firing"
    assert resolved_key == f"{firing['dedup_key']}:resolved"
    assert firing["value"] > 1000 > resolved["value"]
    assert firing["group"] == {"project": project_name, "model": "m"}

"""The dashboard in a real browser: broker + API process (with its sink) + workers, traffic
produced to Kafka, then headless Chromium checks the charts drew that traffic."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from meterstream_cli.processes import ServiceProcess, worker_process
from meterstream_contracts import TOPICS, Completion, Event, GraderScore, TrainingRun, TrainingStep
from meterstream_contracts.api_keys import hash_key, new_key
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from tests.helpers import ServerStore
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("MS_TEST_ARTIFACTS", ".meterstream/artifacts"))
CALLS = 400
STEPS = 40


def traffic(project: str, run_id: str) -> list[Event]:
    now = datetime.now(UTC) - timedelta(minutes=3)
    events: list[Event] = []
    for i in range(CALLS):
        moment = now + timedelta(milliseconds=400 * i)
        events.append(
            Completion(
                project=project,
                completion_id=f"c{i}",
                model=("gpt-4o", "claude-sonnet")[i % 2],
                provider="openai",
                time=moment,
                started_at=moment,
                latency_ms=200.0 + (i * 7919) % 1500,
                ttft_ms=40.0 + i % 60,
                input_tokens=100,
                output_tokens=30 + i % 20,
                status="error" if i % 25 == 0 else "ok",
            )
        )
        if i % 3 == 0:
            events.append(
                GraderScore(
                    project=project,
                    completion_id=f"c{i}",
                    grader_name="judge",
                    grader_type="judge",
                    key="helpfulness",
                    value=(i % 10) / 10,
                    time=moment,
                )
            )
    events.append(
        TrainingRun(
            project=project, run_id=run_id, name="grpo smoke", recipe="grpo", config={"lr": 1e-5}
        )
    )
    events.extend(
        TrainingStep(
            project=project, run_id=run_id, step=step, metrics={"train/reward": step / STEPS}
        )
        for step in range(STEPS)
    )
    return events


def wait_for_calls(url: str, key: str, expected: int, *, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    seen = -1.0
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{url}/api/v1/series",
            params={"metric": "system:calls", "agg": "count", "last": "1h", "interval": 3600},
            headers={"Authorization": f"Bearer {key}"},
            timeout=10,
        ).json()
        seen = sum(v or 0 for s in answer["series"] for v in s["values"])
        if seen >= expected:
            return
        time.sleep(0.5)
    raise AssertionError(f"the API saw {seen} calls of {expected} after {within_s} s")


def test_dashboard_charts_the_produced_traffic(
    kafka_config: KafkaConfig, tmp_path: Path, server_store: ServerStore
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)"
        )
    from playwright.sync_api import sync_playwright

    project, run_id = f"dash-{uuid.uuid4().hex[:8]}", "run-dash"
    key = new_key()
    group, app_id = f"api-{uuid.uuid4().hex[:8]}", f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(apply_topics(kafka_config, TOPICS))
    asyncio.run(start_group_at_end(kafka_config, group))
    asyncio.run(start_group_at_end(kafka_config, app_id))
    sink = ServiceProcess(
        "meterstream_sink",
        log_path=tmp_path / "sink.log",
        env={
            "MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
            **server_store.env,
            "MS_SINK_GROUP_ID": group,
            "MS_SINK_MAX_BATCH_SECONDS": "0.3",
        },
    )
    api = ServiceProcess(
        "meterstream_api",
        log_path=tmp_path / "api.log",
        env={
            **server_store.env,
            "MS_API_PORT": "0",
            "MS_API_API_KEYS": f"{project}:{hash_key(key)}",
        },
    )
    workers = worker_process(
        kafka_config,
        app_id=app_id,
        data_dir=tmp_path / "workers",
        log_path=tmp_path / "workers.log",
    )
    try:
        sink.wait_for_line("sink ready", timeout=120)
        url = api.wait_for_line("api ready on", timeout=120)
        workers.wait_for_line("workers ready", timeout=120)
        asyncio.run(publish(kafka_config, traffic(project, run_id)))
        wait_for_calls(url, key, CALLS, within_s=60)
        time.sleep(3)  # the workers' training history lands a moment later
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.goto(f"{url}/#key={key}")
            page.wait_for_selector("body[data-loaded]", timeout=30_000)
            page.wait_for_selector(
                '[data-chart="training"][data-points]:not([data-points="0"])', timeout=30_000
            )
            latency = page.locator('[data-chart="latency"]')
            assert sorted(eval_json(latency.get_attribute("data-series"))) == [
                "p95 claude-sonnet",
                "p95 gpt-4o",
            ]
            assert int(latency.get_attribute("data-points") or 0) >= 2
            assert latency.locator("canvas").first.bounding_box()["width"] > 200  # type: ignore[index]
            assert page.locator('[data-tile="calls"] b').inner_text() == str(CALLS)
            # "claude-sonnet" from provider "openai": no price is known, and the page says so
            assert page.locator('[data-tile="unpriced calls"] b').inner_text() == str(CALLS // 2)
            assert page.locator("#unpriced tr").count() == 2
            assert "claude-sonnet" in page.locator("#unpriced").inner_text()
            errors = eval_json(page.locator('[data-chart="errors"]').get_attribute("data-series"))
            assert sorted(errors) == ["claude-sonnet", "gpt-4o"]
            feedback = page.locator('[data-chart="feedback"]')
            assert int(feedback.get_attribute("data-points") or 0) >= 1
            assert page.locator("#leaderboard tr").count() == 3  # header + two models
            training = eval_json(
                page.locator('[data-chart="training"]').get_attribute("data-series")
            )
            assert training == [f"{run_id} raw", f"{run_id} ema"]
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            browser.close()
    finally:
        workers.stop()
        api.stop()
        sink.stop()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def eval_json(text: str | None) -> list[str]:
    import json

    value = json.loads(text or "[]")
    assert isinstance(value, list)
    return [str(item) for item in value]

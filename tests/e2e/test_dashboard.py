"""The dashboard in headless Chromium against the stack `meterstream up` starts, with the
demo's traffic flowing: no error on the page or in the console, every time axis on the
chosen range, every chart drawing what the API answers for it (fetched by the test on its
own), the live view moving without a reload; screenshots at 1400 and 800 px wide are kept."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import pytest
from rich.progress import Progress

from meterstream_cli.demo import DemoDoors, DemoPlan, produce_traffic
from meterstream_cli.demo_dashboard import DEMO_PROJECTS
from meterstream_cli.processes import free_port
from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from tests.e2e.dashboard_checks import differences, expected, plotted_points
from tests.helpers import ServerStore, wait_for_output

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
ARTIFACTS = Path(os.environ.get("MS_TEST_ARTIFACTS", ".meterstream/artifacts"))
TRAFFIC_S = 100
SETTLED_S = 20
"""The pinned view ends this long before the page is opened: every row before it is stored."""


@dataclass
class Stack:
    api_url: str
    keys: dict[str, str]
    gateway_url: str


@pytest.fixture
def stack(kafka_config: KafkaConfig, server_store: ServerStore, tmp_path: Path) -> Iterator[Stack]:
    """`meterstream up` for the demo's projects, on the session's broker and ClickHouse."""
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        **server_store.env,
        "MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        "MS_SINK_GROUP_ID": f"dash-sink-{suffix}",
        "MS_WORKER_APP_ID": f"dash-workers-{suffix}",
        "COLUMNS": "200",
    }
    asyncio.run(apply_topics(kafka_config, TOPICS))
    for group in (env["MS_SINK_GROUP_ID"], env["MS_WORKER_APP_ID"]):
        asyncio.run(start_group_at_end(kafka_config, group, keep_registries=True))
    gateway_port = free_port()
    out = tmp_path / "up.out"
    with out.open("wb") as log:
        up = subprocess.Popen(
            [sys.executable, "-m", "meterstream_cli", "up",
             *[arg for project in DEMO_PROJECTS for arg in ("--project", project)],
             "--gateway-port", str(gateway_port), "--api-port", str(free_port()),
             "--otlp-grpc-port", str(free_port()), "--no-local-broker", "--no-local-clickhouse"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_output(out, "meterstream is up", up, within_s=180)
        state = orjson.loads((tmp_path / ".meterstream" / "stack" / "stack.json").read_bytes())
        yield Stack(state["api_url"], state["api_keys"], state["gateway_url"])
    finally:
        subprocess.run(
            [sys.executable, "-m", "meterstream_cli", "down"],
            cwd=tmp_path, env=env, timeout=240, check=False, capture_output=True,
        )  # fmt: skip
        if up.poll() is None:
            up.kill()


def _traffic(kafka: KafkaConfig, stack: Stack) -> threading.Thread:
    """The demo's traffic (SDK, gateway, OTLP, a training run, feedback, invalid events) for
    TRAFFIC_S seconds, in a thread of its own."""
    plan = DemoPlan(TRAFFIC_S, 100, 2, f"run-{uuid.uuid4().hex[:6]}")
    doors = DemoDoors(stack.gateway_url, stack.keys[DEMO_PROJECTS[0]])

    def run() -> None:
        with Progress(disable=True) as progress:
            asyncio.run(produce_traffic(kafka, plan, doors, progress))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _api(stack: Stack, project: str) -> Any:
    client = httpx.Client(headers={"Authorization": f"Bearer {stack.keys[project]}"}, timeout=30)
    return lambda url: client.get(url).raise_for_status().json()


def _wait_until_panels_have_data(stack: Stack, within_s: float) -> None:
    """Until the chat project has calls, feedback, preferences and costs, and the training
    project a history (each comes from another path of the pipeline)."""
    chat, rl = _api(stack, DEMO_PROJECTS[0]), _api(stack, DEMO_PROJECTS[1])
    base = f"{stack.api_url}/api/v1"
    deadline = time.monotonic() + within_s
    missing: list[str] = []
    while time.monotonic() < deadline:
        missing = []
        series = chat(f"{base}/series?metric=system:calls&agg=count&last=15m")["series"]
        if not series:
            missing.append("calls")
        if not chat(f"{base}/preferences?last=15m"):
            missing.append("preferences")
        if not chat(f"{base}/costs?last=15m"):
            missing.append("costs")
        if not any(m["category"] == "grader" for m in chat(f"{base}/metrics")):
            missing.append("grader scores")
        runs = rl(f"{base}/runs")["runs"]
        if not runs or not runs[0]["steps"]:
            missing.append("training history")
        if not missing:
            return
        time.sleep(1)
    raise AssertionError(f"after {within_s} s the API still has no {missing}")


class Browser:
    def __init__(self, playwright: Any) -> None:
        self.browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)

    def open(self, url: str, width: int) -> tuple[Any, list[str]]:
        page = self.browser.new_page(viewport={"width": width, "height": 1000})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(url)
        page.wait_for_function("Number(document.body.dataset.loaded) >= 1", timeout=60_000)
        return page, problems


def _check_page(page: Any, console: list[str], fetch: Any, *, charts: set[str]) -> None:
    """No error shown or logged; each chart on the page's range and drawing the API's
    answer; no chart empty when its answer has data."""
    assert console == [], console
    status = page.locator("#status")
    assert "error" not in (status.get_attribute("class") or ""), status.inner_text()
    assert not re.search(r"error|unavailable|refused", page.inner_text("#health"), re.I)
    assert page.locator(".empty").filter(has_text=re.compile("error", re.I)).count() == 0
    lo, hi = orjson.loads(page.evaluate("document.body.dataset.range"))
    model = parse_qs(urlsplit(page.url).query).get("model", [""])[0]
    records = page.evaluate(
        "Object.fromEntries(Object.entries(window.meterstream.charts).map(([k, v]) =>"
        " [k, {...v, plotted: v.plotted ? v.plotted() : null}]))"
    )
    assert set(records) == charts, sorted(records)
    problems: list[str] = []
    for name, record in records.items():
        if record["range"] is not None:
            assert record["range"] == [lo, hi], (name, record["range"])
        if record["source"] is None:
            assert record["empty"], name
            continue
        want = expected(name, record, fetch, model)
        if not any(want.values()):
            assert record["empty"], f"{name} drew points the API does not have"
            continue
        assert not record["empty"], f"{name} is empty while the API answers {want}"
        plotted = record["plotted"]
        labels = plotted["yLabels"]
        assert labels, name
        assert len(set(labels)) == len(labels), (name, labels)  # readable: no label repeated
        if record["range"] is not None:
            assert (plotted["xMin"], plotted["xMax"]) == (lo, hi), (name, plotted)
        drawn = plotted_points(record, plotted)
        if record["range"] is None:
            # A run's history follows no time range: steps logged after the page read it
            # are not on it yet (earlier steps, and their causal smoothing, do not change).
            last = max(plotted["xs"])
            want = {label: {x: v for x, v in p.items() if x <= last} for label, p in want.items()}
        problems += differences(name, want, drawn)
    assert problems == [], "\n".join(problems[:20])


INFERENCE = {"latency", "ttft", "calls", "errors", "tokens", "throughput", "cost"}


def test_the_dashboard_draws_what_the_api_answers_while_demo_traffic_flows(
    kafka_config: KafkaConfig, stack: Stack
) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed (.ci/run: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    traffic = _traffic(kafka_config, stack)
    started = time.monotonic()
    _wait_until_panels_have_data(stack, within_s=120)
    # about a minute of traffic before the pinned view's end, which settles SETTLED_S
    time.sleep(max(SETTLED_S, started + 60 + SETTLED_S - time.monotonic()))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chat, rl = DEMO_PROJECTS
    every_chart = INFERENCE | {"feedback", "training"}
    with sync_playwright() as playwright:
        browser = Browser(playwright)
        # A pinned view (as a shared link gives it): every value in it is settled.
        pinned = int(time.time()) - SETTLED_S
        for width in (1400, 800):
            page, console = browser.open(
                f"{stack.api_url}/?range=15m&end={pinned}#key={stack.keys[chat]}", width
            )
            _check_page(page, console, _api(stack, chat), charts=every_chart)
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{width}.png"), full_page=True)
            page.close()
        # One model: every panel follows the filter, and the URL keeps it.
        page, console = browser.open(
            f"{stack.api_url}/?range=15m&end={pinned}&model=gpt-4o#key={stack.keys[chat]}", 1400
        )
        _check_page(page, console, _api(stack, chat), charts=every_chart)
        for name in ("latency", "calls", "throughput", "cost"):
            labels = page.evaluate(f"window.meterstream.charts[{name!r}].labels")
            assert labels == ["gpt-4o"], (name, labels)
        assert "model=gpt-4o" in page.url
        page.close()
        # The training project: curves and their smoothing from the run's history.
        page, console = browser.open(
            f"{stack.api_url}/?range=15m&end={pinned}#key={stack.keys[rl]}", 1400
        )
        _check_page(page, console, _api(stack, rl), charts=every_chart)
        assert not page.evaluate("window.meterstream.charts.training.empty")
        page.screenshot(path=str(ARTIFACTS / "dashboard-training-1400.png"), full_page=True)
        page.close()
        # Live: the view that follows now moves by itself, with no reload.
        page, console = browser.open(f"{stack.api_url}/?range=15m#key={stack.keys[chat]}", 1400)
        first = orjson.loads(page.evaluate("document.body.dataset.range"))
        page.evaluate("window.notReloaded = true")
        page.wait_for_function("Number(document.body.dataset.loaded) >= 2", timeout=30_000)
        assert page.evaluate("window.notReloaded") is True
        later = orjson.loads(page.evaluate("document.body.dataset.range"))
        assert later[1] > first[1], (first, later)
        assert console == [], console
        assert "error" not in (page.locator("#status").get_attribute("class") or "")
        for name in INFERENCE:
            assert not page.evaluate(f"window.meterstream.charts[{name!r}].empty"), name
        page.close()
        browser.browser.close()
    traffic.join(timeout=TRAFFIC_S + 60)
    for name in ("dashboard-1400.png", "dashboard-800.png", "dashboard-training-1400.png"):
        assert (ARTIFACTS / name).stat().st_size > 20_000, name

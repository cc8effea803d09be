"""Alerting benchmark: event → webhook delay, and the rule engine's throughput.

Phase 1 (no I/O): the shipped example rules applied to 200,000 merged-window
records of 100 groups, records/s.

Phase 2: a worker process with one rule (p95 latency > 1000 ms for 10 s on
10-second windows) and a webhook receiver on 127.0.0.1. Live traffic at a
steady rate turns slow at a moment T; the delay is the webhook's arrival minus
T (the event time of the first slow call), so it includes the for-duration
(judged on window ends, in event time) and the whole pipeline: first phase,
merge, evaluator, dispatcher, HTTP. Then traffic turns fast again until the
resolved notification arrives, and the next trial starts.
"""

from __future__ import annotations

import argparse
import asyncio
import http.server
import json
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from benchmarks.broker import benchmark_kafka
from meterstream_alerting.engine import RuleEngine
from meterstream_alerting.rules import shipped_rules
from meterstream_cli.processes import worker_process
from meterstream_contracts import Completion
from meterstream_kafka import (
    KafkaConfig,
    make_producer,
    publish_events,
    start_group_at_end,
)

WINDOWS = "meterstream.derived.inference_windows"


def engine_throughput(records: int = 200_000, groups: int = 100) -> float:
    engine = RuleEngine(shipped_rules())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch = [
        {
            "project": "p",
            "model": f"m{i % groups}",
            "window_start": (start + timedelta(seconds=10 * (i // groups))).isoformat(),
            "window_seconds": 10,
            "count": 100,
            "errors": {"error": i % 7},
            "latency_p95_ms": 800.0 + (i * 37) % 3000,
            "ttft_p50_ms": 200.0 + i % 50,
        }
        for i in range(records)
    ]
    table: dict[str, Any] = {}
    began = time.perf_counter()
    for i in range(0, records, 100):
        _, changed = engine.apply(WINDOWS, batch[i : i + 100], 0.0, table.get)
        table.update({key: state.state() for key, state in changed.items()})
    return records / (time.perf_counter() - began)


class Receiver(http.server.ThreadingHTTPServer):
    arrivals: list[tuple[float, dict[str, Any]]]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert isinstance(self.server, Receiver)
        self.server.arrivals.append((time.time(), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


async def traffic(
    kafka: KafkaConfig, project: str, rate: int, latency_ms: float, until: Any
) -> float:
    """Live calls at `rate`/s with the given latency until `until()`; the first call's time."""
    producer = make_producer(kafka)
    await producer.start()
    first = time.time()
    try:
        while not until():
            now = datetime.now(UTC)
            calls = [
                Completion(
                    project=project,
                    model="m",
                    provider="openai",
                    time=now,
                    started_at=now,
                    latency_ms=latency_ms,
                    ttft_ms=30.0,
                )
                for _ in range(rate // 10)
            ]
            await publish_events(producer, calls)
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
    return first


def _more(server: Receiver, state: str, within_s: float) -> Any:
    """A stop condition: one more `state` notification arrived, or time ran out."""
    seen = sum(1 for _, body in server.arrivals if body["state"] == state)
    deadline = time.monotonic() + within_s
    return lambda: (
        sum(1 for _, body in server.arrivals if body["state"] == state) > seen
        or time.monotonic() > deadline
    )


def run_trial(kafka: KafkaConfig, project: str, rate: int, server: Receiver) -> float | None:
    """Fast traffic, then slow until the firing webhook, then fast until it resolves."""
    warm = time.monotonic() + 15
    asyncio.run(traffic(kafka, project, rate, 100.0, lambda: time.monotonic() > warm))
    fired = sum(1 for _, body in server.arrivals if body["state"] == "firing")
    slow_from = asyncio.run(traffic(kafka, project, rate, 2500.0, _more(server, "firing", 60)))
    firing = [at for at, body in server.arrivals if body["state"] == "firing"]
    asyncio.run(traffic(kafka, project, rate, 100.0, _more(server, "resolved", 60)))
    return firing[-1] - slow_from if len(firing) > fired else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--rate", type=int, default=500)
    args = parser.parse_args()
    print(f"rule engine: {engine_throughput():,.0f} derived records/s (6 example rules, pure)")

    kafka = benchmark_kafka()
    project = f"bench-alerts-{uuid.uuid4().hex[:6]}"
    folder = Path(tempfile.mkdtemp(prefix="ms-bench-alerts-"))
    rules = folder / "rules.yaml"
    rule = {
        "id": "slow",
        "source": "inference_windows",
        "window_seconds": 10,
        "min_count": 10,
        "where": {"project": project},
        "metric": "latency_p95_ms",
        "threshold": 1000,
        "for_s": 10,
    }
    rules.write_text(yaml.safe_dump({"rules": [rule]}))
    server = Receiver(("127.0.0.1", 0), Handler)
    server.arrivals = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app_id = f"bench-alerts-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka, app_id))
    worker = worker_process(
        kafka,
        app_id=app_id,
        data_dir=folder / "state",
        log_path=folder / "workers.log",
        env={
            "MS_WORKER_ALERT_RULES": str(rules),
            "MS_WORKER_ALERT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_address[1]}/",
        },
    )
    delays = []
    try:
        worker.wait_for_line("workers ready", timeout=120)
        for trial in range(args.trials):
            delay = run_trial(kafka, project, args.rate, server)
            if delay is None:
                print(f"trial {trial + 1}: no firing within 60 s")
            else:
                delays.append(delay)
                print(f"trial {trial + 1}: first slow call → firing webhook {delay:.2f} s")
    finally:
        worker.stop()
        server.shutdown()
    if delays:
        delays.sort()
        p50 = delays[len(delays) // 2]
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
        print(
            f"first slow call (event time) → webhook, rule p95 > 1 s for 10 s on 10 s windows,"
            f" {args.rate} calls/s: p50 {p50:.2f} s, p99 {p99:.2f} s over {len(delays)} trials;"
            f" after the for-duration's end: p50 {p50 - 10:.2f} s, p99 {p99 - 10:.2f} s"
        )


if __name__ == "__main__":
    main()

"""The rollup worker on the real broker: its partials equal a recomputation, across a SIGKILL."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meterstream_cli.processes import ServiceProcess, worker_process
from meterstream_contracts import TOPICS, Completion, Event, split_envelope
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.inference import build_partials
from meterstream_derivations.sketch import QuantileSketch
from meterstream_kafka import KafkaConfig, apply_topics, end_offsets, start_group_at_end
from meterstream_pricing import default_registry
from tests.integration.kafka_io import read_from
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

ROLLUPS = "meterstream.derived.inference_rollups"


def completions(project: str, count: int) -> list[Event]:
    start = datetime.now(UTC) - timedelta(minutes=2)
    return [
        Completion(
            project=project,
            model=("gpt-4o-mini", "gpt-4o")[i % 2],
            provider="openai",
            time=start + timedelta(milliseconds=37 * i),
            started_at=start,
            latency_ms=100.0 + (i * 7919) % 2000,
            ttft_ms=50.0,
            input_tokens=100 + i % 50,
            output_tokens=20,
            status="error" if i % 17 == 0 else "ok",
        )
        for i in range(count)
    ]


WindowTotals = dict[tuple[str, int, datetime], tuple[int, int, dict[int, int]]]


def merged(partials: list[InferenceRollup]) -> WindowTotals:
    """Per window: (count, input tokens, latency bins), each partial counted once by its id."""
    latest = {(p.partial_id, p.model, p.window_seconds, p.window_start): p for p in partials}
    counts: dict[tuple[str, int, datetime], int] = defaultdict(int)
    tokens: dict[tuple[str, int, datetime], int] = defaultdict(int)
    sketches: dict[tuple[str, int, datetime], QuantileSketch] = defaultdict(QuantileSketch)
    for p in latest.values():
        window = (p.model, p.window_seconds, p.window_start)
        counts[window] += p.count
        tokens[window] += p.input_tokens
        sketches[window].merge(p.latency_bins)
    return {window: (counts[window], tokens[window], sketches[window].bins) for window in counts}


def start_worker(
    kafka: KafkaConfig, app_id: str, log: Path, env: dict[str, str] | None = None
) -> ServiceProcess:
    """A worker process, its tables beside its log; returns once it is ready."""
    worker = worker_process(
        kafka, app_id=app_id, data_dir=log.parent / "worker-state", log_path=log, env=env
    )
    worker.wait_for_line("workers ready", timeout=120)
    return worker


def test_partials_equal_a_recomputation_across_a_worker_sigkill(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    start = asyncio.run(end_offsets(kafka_config, [ROLLUPS]))
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    sent = completions(project_name, 6000)
    asyncio.run(publish(kafka_config, sent, per_envelope=100))
    expected: WindowTotals = {}
    for window in (10, 60):
        calls = [event for event in sent if isinstance(event, Completion)]
        result = build_partials(
            calls, window_seconds=window, partial_id="all", pricing=default_registry()
        )
        for p in result.partials:
            expected[(p.model, window, p.window_start)] = (p.count, p.input_tokens, p.latency_bins)

    def mine(values: list[bytes]) -> list[InferenceRollup]:
        found = [
            InferenceRollup.model_validate_json(line) for v in values for line in split_envelope(v)
        ]
        return [p for p in found if p.project == project_name]

    worker = start_worker(kafka_config, app_id, tmp_path / "worker-1.log")
    try:
        deadline = time.monotonic() + 60
        while not mine(
            asyncio.run(read_from(kafka_config, start, until=lambda v: bool(mine(v)), within_s=2))
        ):
            assert time.monotonic() < deadline, worker.tail()
    finally:
        worker.kill()  # mid-stream: some envelopes done, offsets perhaps not yet committed
    assert worker.returncode == -signal.SIGKILL
    restarted = start_worker(kafka_config, app_id, tmp_path / "worker-2.log")
    try:
        values = asyncio.run(
            read_from(
                kafka_config, start, until=lambda v: merged(mine(v)) == expected, within_s=120
            )
        )
    finally:
        restarted.stop()
    assert merged(mine(values)) == expected

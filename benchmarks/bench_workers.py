"""Worker benchmark: events/s per process, start-to-ready, window end → derived row, peak RSS.

The rollup worker runs as a real process against the local Apache Kafka broker
(or MS_KAFKA_BOOTSTRAP_SERVERS). Phase 1 pre-loads validated envelopes of 200
completions and times the worker draining them. Phase 2 produces at a steady
rate with live event times and measures, per 10-second window, the delay from
the window's end to the last partial for it appearing on the derived topic.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.bench_sink import completion_lines
from benchmarks.broker import benchmark_kafka
from benchmarks.proc import peak_rss_mb
from meterstream_cli.processes import worker_process
from meterstream_contracts import TOPICS, split_envelope
from meterstream_contracts.derived import InferenceRollup, InferenceWindow
from meterstream_kafka import (
    KafkaConfig,
    end_offsets,
    group_lag,
    make_producer,
    send_messages,
    start_group_at_end,
)

COMPLETIONS = TOPICS.for_kind("completion").name
WINDOWS = "meterstream.derived.inference_windows"
ROLLUPS = "meterstream.derived.inference_rollups"
PER_ENVELOPE = 200


async def send_envelopes(kafka: KafkaConfig, project: str, batches: list[list[bytes]]) -> None:
    """Each batch of lines as envelopes of PER_ENVELOPE, marked validated."""
    producer = make_producer(kafka)
    await producer.start()
    try:
        for lines in batches:
            messages = [
                (f"{project}/{i}".encode(), b"\n".join(lines[i : i + PER_ENVELOPE]))
                for i in range(0, len(lines), PER_ENVELOPE)
            ]
            await send_messages(producer, COMPLETIONS, messages, validated=True)
    finally:
        await producer.stop()


async def produce_steady(kafka: KafkaConfig, project: str, rate: int, seconds: float) -> None:
    producer = make_producer(kafka)
    await producer.start()
    started = time.monotonic()
    tick = 0
    try:
        while time.monotonic() - started < seconds:
            lines = completion_lines(project, rate // 10, now=datetime.now(UTC))
            messages = [
                (f"{project}/{i}".encode(), b"\n".join(lines[i : i + PER_ENVELOPE]))
                for i in range(0, len(lines), PER_ENVELOPE)
            ]
            await send_messages(producer, COMPLETIONS, messages, validated=True)
            tick += 1
            await asyncio.sleep(max(0.0, started + tick * 0.1 - time.monotonic()))
    finally:
        await producer.stop()


async def partial_span(
    kafka: KafkaConfig, start: dict[TopicPartition, int], project: str
) -> tuple[float, float]:
    """(first, last) timestamps in seconds of `project`'s partials on the derived topic."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    stamps: list[float] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        ends = await consumer.end_offsets(list(start))
        while any([await consumer.position(p) < ends[p] for p in start]):
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    if f'"project":"{project}"'.encode() in (message.value or b""):
                        stamps.append(message.timestamp / 1000)
    finally:
        await consumer.stop()
    return min(stamps), max(stamps)


async def partial_delays(
    kafka: KafkaConfig, start: dict[TopicPartition, int], project: str, within_s: float
) -> list[float]:
    """Per 10 s window of `project`: seconds from window end to its last partial (first phase)."""
    last_seen: dict[tuple[str, datetime], float] = {}
    for value, at in await _read(kafka, start, within_s):
        for line in split_envelope(value):
            partial = InferenceRollup.model_validate_json(line)
            if partial.project == project and partial.window_seconds == 10:
                key = (partial.model, partial.window_start)
                last_seen[key] = max(last_seen.get(key, 0.0), at)
    return sorted(seen - (start_.timestamp() + 10) for (_, start_), seen in last_seen.items())


async def window_delays(
    kafka: KafkaConfig, start: dict[TopicPartition, int], project: str, within_s: float
) -> list[float]:
    """Per 10 s window of `project`: seconds from window end to the first merged window
    on the derived topic that holds all of the window's events (the merge stage's output)."""
    seen: dict[tuple[str, datetime], list[tuple[int, float]]] = {}
    for value, at in await _read(kafka, start, within_s):
        for line in split_envelope(value):
            window = InferenceWindow.model_validate_json(line)
            if window.project == project and window.window_seconds == 10:
                seen.setdefault((window.model, window.window_start), []).append((window.count, at))
    delays = []
    for (_, window_start), emissions in seen.items():
        complete = max(count for count, _ in emissions)
        first = min(at for count, at in emissions if count == complete)
        delays.append(first - (window_start.timestamp() + 10))
    return sorted(delays)


async def _read(
    kafka: KafkaConfig, start: dict[TopicPartition, int], within_s: float
) -> list[tuple[bytes, float]]:
    """(value, append time in s) of the messages after `start`, read for `within_s`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    found: list[tuple[bytes, float]] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                found.extend((m.value or b"", m.timestamp / 1000) for m in messages)
    finally:
        await consumer.stop()
    return found


def percentiles(delays: list[float]) -> tuple[float, float, int]:
    full = delays[1:-1] or delays  # the first and last windows are only partly produced
    if not full:
        return float("nan"), float("nan"), 0
    return full[len(full) // 2], full[min(len(full) - 1, int(len(full) * 0.99))], len(full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_200_000)
    parser.add_argument("--rate", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    kafka = benchmark_kafka()
    app_id = f"bench-workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka, app_id))
    bulk = f"bench-bulk-{app_id}"
    lines = completion_lines(bulk, args.events, now=datetime.now(UTC))
    asyncio.run(send_envelopes(kafka, bulk, [lines]))
    del lines
    bulk_start = asyncio.run(end_offsets(kafka, [ROLLUPS]))
    folder = Path(tempfile.mkdtemp(prefix="ms-bench-workers-"))
    launched = time.perf_counter()
    worker = worker_process(
        kafka, app_id=app_id, data_dir=folder / "state", log_path=folder / "workers.log"
    )
    try:
        worker.wait_for_line("workers ready", timeout=120)
        ready_s = time.perf_counter() - launched
        while sum(asyncio.run(group_lag(kafka, group_id=app_id, topics=[COMPLETIONS])).values()):
            time.sleep(0.2)
        # The span between the first and the last partial of the pre-loaded events,
        # from the derived topic's own timestamps: group join and commit timing excluded.
        first, last = asyncio.run(partial_span(kafka, bulk_start, bulk))
        drain_s = last - first
        drained_events = args.events
        steady = f"bench-rate-{app_id}"
        windows_start = asyncio.run(end_offsets(kafka, [WINDOWS]))
        partials_start = asyncio.run(end_offsets(kafka, [ROLLUPS]))
        asyncio.run(produce_steady(kafka, steady, args.rate, args.seconds))
        delays = asyncio.run(window_delays(kafka, windows_start, steady, within_s=15))
        first_phase = asyncio.run(partial_delays(kafka, partials_start, steady, within_s=5))
        rss = peak_rss_mb(worker.pid)
    finally:
        worker.stop()
    print(f"worker start to ready: {ready_s:.1f} s (process start, group join, first timer)")
    print(
        f"worker drain: {drained_events:,} events in {drain_s:.2f} s ="
        f" {drained_events / drain_s:,.0f} events/s per process (envelopes of {PER_ENVELOPE})"
    )
    for label, values in (
        ("last partial (first phase)", first_phase),
        ("merged window with all its events", delays),
    ):
        p50, p99, count = percentiles(values)
        print(
            f"window end → {label} at {args.rate:,} events/s:"
            f" p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms over {count} windows"
        )
    print(f"worker peak RSS: {rss:,.0f} MB")


if __name__ == "__main__":
    main()

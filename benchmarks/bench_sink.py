"""Sink benchmark: rows/s from the broker into the ClickHouse server, freshness at a fixed
rate, CPU and peak RSS of the sink and of the server.

Runs against the local Apache Kafka broker and the local ClickHouse server (each started
if needed) or MS_KAFKA_BOOTSTRAP_SERVERS / MS_WAREHOUSE_URL, with the sink as a real
process writing a database of its own. Phase 1 pre-loads validated envelopes and times the
sink draining them.
Phase 2 produces at a fixed rate with real event times from a second process and
reads freshness (event time → row inserted, ClickHouse's own `ingested_at`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.broker import benchmark_kafka, benchmark_store
from benchmarks.e2e_measure import freshness
from benchmarks.proc import cpu_seconds, peak_rss_mb
from meterstream_cli.processes import ServiceProcess
from meterstream_contracts import TOPICS
from meterstream_kafka import (
    KafkaConfig,
    group_lag,
    make_producer,
    send_messages,
    start_group_at_end,
)
from meterstream_warehouse import Warehouse

PER_ENVELOPE = 500
MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4")


_TEMPLATE = (
    b'{"kind":"completion","schema_version":1,"event_id":"%s","time":"%s","project":"%s",'
    b'"completion_id":"%s","model":"%s","provider":"openai","started_at":"%s",'
    b'"ttft_ms":%.1f,"latency_ms":%.1f,"input_tokens":%d,"output_tokens":%d,'
    b'"cached_tokens":0,"status":"ok","error_type":null,"streamed":true,'
    b'"labels":{"route":"/chat"}}'
)


def completion_lines(project: str, count: int, *, now: datetime) -> list[bytes]:
    """Contract-shaped completion events from a template (a load generator must outrun the sink)."""
    stamp = now.isoformat().replace("+00:00", "Z").encode()
    prefix = uuid.uuid4().hex[:20]
    name = project.encode()
    lines = []
    for i in range(count):
        tail = f"{i:012x}"
        event_id = f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-a{prefix[17:20]}-{tail}".encode()
        latency = 200.0 + (i * 7919) % 3000
        lines.append(
            _TEMPLATE
            % (
                event_id,
                stamp,
                name,
                event_id[-12:],
                MODELS[i % 3].encode(),
                stamp,
                latency / 4,
                latency,
                500 + i % 700,
                100 + i % 300,
            )
        )
    return lines


async def send_lines(kafka: KafkaConfig, project: str, lines: list[bytes]) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        topic = TOPICS.for_kind("completion").name
        messages = [
            (
                f"{project}/{MODELS[(i // PER_ENVELOPE) % 3]}".encode(),
                b"\n".join(lines[i : i + PER_ENVELOPE]),
            )
            for i in range(0, len(lines), PER_ENVELOPE)
        ]
        for start in range(0, len(messages), 200):
            await send_messages(producer, topic, messages[start : start + 200], validated=True)
    finally:
        await producer.stop()


def produce_at_rate(bootstrap: str, project: str, rate: int, seconds: float) -> None:
    """Child process: `rate` events/s for `seconds`, each stamped with its send time."""

    async def run() -> None:
        kafka = KafkaConfig(bootstrap_servers=bootstrap)
        producer = make_producer(kafka)
        await producer.start()
        topic = TOPICS.for_kind("completion").name
        tick = 0.05
        per_tick = int(rate * tick)
        started = time.monotonic()
        try:
            while time.monotonic() - started < seconds:
                lines = completion_lines(project, per_tick, now=datetime.now(UTC))
                messages = [
                    (f"{project}/{MODELS[i % 3]}".encode(), b"\n".join(lines[i : i + PER_ENVELOPE]))
                    for i in range(0, len(lines), PER_ENVELOPE)
                ]
                await send_messages(producer, topic, messages, validated=True)
                tick_index = int((time.monotonic() - started) / tick) + 1
                await asyncio.sleep(max(0.0, started + tick_index * tick - time.monotonic()))
        finally:
            await producer.stop()

    asyncio.run(run())


async def wait_drained(kafka: KafkaConfig, group: str, sink: ServiceProcess) -> None:
    topic = [TOPICS.for_kind("completion").name]
    while sum((await group_lag(kafka, group_id=group, topics=topic)).values()):
        if sink.returncode is not None:
            raise RuntimeError(sink.tail())
        await asyncio.sleep(0.05)


def insert_ceiling(warehouse: Warehouse, rows: int = 50_000) -> float:
    """rows/s of the same JSONEachRow bytes inserted into the same server in blocks of the
    sink's size, with no Kafka and no sink around them (median of 3)."""
    payload = b"\n".join(completion_lines("bench-ceiling", rows, now=datetime.now(UTC)))
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        warehouse.insert_json_rows("raw_completions", payload)
        rates.append(rows / (time.perf_counter() - started))
    return sorted(rates)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000, help="pre-loaded events (phase 1)")
    parser.add_argument("--rate", type=int, default=100_000, help="events/s in phase 2")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of phase 2")
    parser.add_argument("--batch-rows", default="50000", help="MS_SINK_MAX_BATCH_ROWS")
    args = parser.parse_args()

    kafka = benchmark_kafka()
    folder = Path(tempfile.mkdtemp(prefix="ms-bench-sink-"))
    store = benchmark_store("bench_sink")
    group = f"bench-{uuid.uuid4().hex[:8]}"
    bulk, steady_project = f"bench-bulk-{group}", f"bench-rate-{group}"
    asyncio.run(start_group_at_end(kafka, group))

    encode_started = time.perf_counter()
    lines = completion_lines(bulk, args.events, now=datetime.now(UTC))
    asyncio.run(send_lines(kafka, bulk, lines))
    payload_mb = sum(len(line) for line in lines) / 1e6
    took = time.perf_counter() - encode_started
    print(f"pre-loaded {args.events:,} events ({payload_mb:,.0f} MB JSON) in {took:.1f}s")
    del lines
    # The server's speed drifts with its background merges: the bare insert is timed just
    # before the drain and again after it, and the drain is compared with both.
    ceiling_before = insert_ceiling(store.warehouse)

    env = {
        "MS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        **store.env,
        "MS_SINK_GROUP_ID": group,
        "MS_SINK_MAX_BATCH_ROWS": args.batch_rows,
        "MS_SINK_MAX_BATCH_SECONDS": "0.25",
    }
    sink = ServiceProcess("meterstream_sink", log_path=folder / "sink.log", env=env)
    try:
        sink.wait_for_line("sink ready", timeout=120)
        server_before = cpu_seconds(store.server_pid) if store.server_pid else 0.0
        cpu_before, started = cpu_seconds(sink.pid), time.perf_counter()
        asyncio.run(wait_drained(kafka, group, sink))
        drained_s = time.perf_counter() - started
        drain_cpu = cpu_seconds(sink.pid) - cpu_before
        server_cpu = cpu_seconds(store.server_pid) - server_before if store.server_pid else 0.0
        producer = multiprocessing.Process(
            target=produce_at_rate,
            args=(kafka.bootstrap_servers, steady_project, args.rate, args.seconds),
        )
        producer.start()
        producer.join()
        asyncio.run(wait_drained(kafka, group, sink))
        rss = peak_rss_mb(sink.pid)
    finally:
        sink.stop()
    warehouse = store.warehouse
    try:
        fresh = freshness(warehouse, steady_project)
        drain = warehouse.query_rows(
            "SELECT count() AS n, countIf(ingested_at > first) AS after_first,"
            " dateDiff('millisecond', any(first), max(ingested_at)) / 1000 AS span_s"
            " FROM raw_completions"
            " CROSS JOIN (SELECT min(ingested_at) AS first FROM raw_completions"
            "             WHERE project = {p:String}) AS f"
            " WHERE project = {p:String}",
            params={"p": bulk},
        )[0]
        ceilings = (ceiling_before, insert_ceiling(warehouse))
        server_rss = peak_rss_mb(store.server_pid) if store.server_pid else float("nan")
    finally:
        store.drop()
        shutil.rmtree(folder, ignore_errors=True)
    report(drain, fresh, ceilings=ceilings, drained_s=drained_s, drain_cpu=drain_cpu, rss=rss)
    print(
        f"ClickHouse server: {server_cpu:.1f} CPU s while the sink drained"
        f" ({server_cpu / drained_s:.2f} cores), peak RSS {server_rss:,.0f} MB"
    )


def report(
    drain: dict[str, float],
    fresh: dict[str, float],
    *,
    ceilings: tuple[float, float],
    drained_s: float,
    drain_cpu: float,
    rss: float,
) -> None:
    stored = drain["n"]
    print(
        f"sink drain: {stored:,} rows in {drained_s:.2f}s ="
        f" {stored / drained_s:,.0f} rows/s per process"
        f" ({drain_cpu:.1f} CPU s, {drain_cpu / drained_s:.2f} cores)"
    )
    achieved = fresh["n"] / max(fresh["span_s"], 1e-9)
    print(
        f"freshness at {achieved:,.0f} events/s offered ({fresh['n']:,.0f} events):"
        f" p50 {fresh['p50']:.0f} ms, p99 {fresh['p99']:.0f} ms (event time → row inserted)"
    )
    steady = drain["after_first"] / max(drain["span_s"], 1e-9)
    low, high = sorted(ceilings)
    print(
        f"sink steady state (first insert to last): {steady:,.0f} rows/s;"
        f" the same bytes inserted into the same server alone, before and after:"
        f" {ceilings[0]:,.0f} and {ceilings[1]:,.0f} rows/s;"
        f" ratio {steady / high:.2f}-{steady / low:.2f}"
    )
    print(f"sink peak RSS: {rss:,.0f} MB")


if __name__ == "__main__":
    main()

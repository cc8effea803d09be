"""End-to-end benchmark: SDK transport → Kafka → workers and sink → the ClickHouse server.

Everything on this machine: the local Apache Kafka broker (or MS_KAFKA_BOOTSTRAP_SERVERS), the
local ClickHouse server (or MS_WAREHOUSE_URL; its CPU counted as a component of its own),
one sink process, one worker process, and generator processes (`benchmarks.e2e_load`).

1. Capacity: the generators send mixed traffic as fast as the SDK transport takes it,
   while the pipeline runs. Sustained events/s end to end = events produced / time until
   every raw event is stored and every completion is counted in a published rollup.
2. Freshness: one generator at a fixed rate (100k events/s) with live event times; event
   time → raw row stored per event, and per 10 s window its last event → the store holding
   all of its partials.
3. Peer: the capacity phase's completions drained again by a fresh worker alone, then by
   quixstreams computing the same 1-minute rollup (`benchmarks/peer`) alone, each timed
   from the 10th to the 90th percent of the completions (clear of start-up); the ratio.

Writes a JSON report and a PNG chart (`--out`, default .meterstream/bench).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import subprocess
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import TopicPartition

from benchmarks import e2e_load
from benchmarks.broker import BenchmarkStore, benchmark_kafka, benchmark_store
from benchmarks.e2e_chart import write_chart
from benchmarks.e2e_measure import (
    PARTIALS,
    PartialsFollower,
    Sample,
    Samples,
    freshness,
    freshness_per_second,
    rollup_freshness,
    rows_stored,
    sample_until,
    topic_traffic,
)
from benchmarks.proc import cpu_seconds, peak_rss_mb
from meterstream_cli.processes import ServiceProcess, free_port, worker_process
from meterstream_cli.stack import wait_until_stored
from meterstream_contracts import TOPICS
from meterstream_kafka import (
    KafkaConfig,
    catalogue_end_offsets,
    commit_group_offsets,
    end_offsets,
    start_group_at_end,
)
from meterstream_pricing import UnknownModelPrice, default_registry
from meterstream_workers.topics import CONSUMED_TOPICS

COMPLETIONS = TOPICS.for_kind("completion").name
PEER = Path(__file__).resolve().parent / "peer" / "quix_rollup.py"
BROKER_PID = Path(__file__).resolve().parents[1] / "infra" / "kafka" / "data" / "broker.pid"


def _generate(
    bootstrap: str, project: str, events: int, rate: float | None, counters: list[Any]
) -> None:
    produced, calls, cpu, rss = counters

    def report(events: int, completions: int) -> None:
        with produced.get_lock():
            produced.value += events
        with calls.get_lock():
            calls.value += completions

    e2e_load.generate(bootstrap, project, events, rate, report)
    with cpu.get_lock():
        cpu.value += time.process_time()
    with rss.get_lock():
        rss.value = max(rss.value, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def run_generators(
    kafka: KafkaConfig, project: str, events: int, processes: int, rate: float | None
) -> tuple[list[multiprocessing.Process], list[Any]]:
    counters = [multiprocessing.Value("q", 0), multiprocessing.Value("q", 0),
                multiprocessing.Value("d", 0.0), multiprocessing.Value("d", 0.0)]  # fmt: skip
    share = events // processes
    started = [
        multiprocessing.Process(
            target=_generate,
            args=(kafka.bootstrap_servers, project, share, rate, counters),
        )
        for _ in range(processes)
    ]
    for process in started:
        process.start()
    return started, counters


class Pipeline:
    """The sink and one worker as processes, their CPU seconds counted from `mark()`."""

    def __init__(self, kafka: KafkaConfig, folder: Path, run: str, store: BenchmarkStore) -> None:
        self.store = store
        self.sink_group, self.app_id = f"e2e-sink-{run}", f"e2e-workers-{run}"
        asyncio.run(start_group_at_end(kafka, self.sink_group, keep_registries=True))
        asyncio.run(start_group_at_end(kafka, self.app_id))
        self.metrics_url = f"http://127.0.0.1:{free_port()}"
        self.sink = ServiceProcess("meterstream_sink", log_path=folder / "sink.log", env={
            "MS_KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            **store.env,
            "MS_SINK_GROUP_ID": self.sink_group,
            "MS_SINK_METRICS_PORT": self.metrics_url.rsplit(":", 1)[1],
        })  # fmt: skip
        self.worker = worker_process(
            kafka, app_id=self.app_id, data_dir=folder / "worker-state",
            log_path=folder / "worker.log",
        )  # fmt: skip
        self.sink.wait_for_line("sink ready", timeout=120)
        self.worker.wait_for_line("workers ready", timeout=120)
        self.mark()

    def pids(self) -> dict[str, int]:
        pids = {"sink": self.sink.pid, "worker": self.worker.pid}
        if BROKER_PID.exists():
            pids["broker"] = int(BROKER_PID.read_text().strip())
        if self.store.server_pid:
            pids["clickhouse"] = self.store.server_pid
        return pids

    def mark(self) -> None:
        self._cpu = {name: cpu_seconds(pid) for name, pid in self.pids().items()}

    def cpu_since_mark(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self._cpu[name] for name, pid in self.pids().items()}

    async def rows_stored(self) -> dict[str, int]:
        async with httpx.AsyncClient(base_url=self.metrics_url, timeout=5) as client:
            return await rows_stored(client)

    def rss(self) -> dict[str, float]:
        return {name: peak_rss_mb(pid) for name, pid in self.pids().items()}

    def stop(self) -> None:
        self.worker.stop()
        self.sink.stop()


def capacity(kafka: KafkaConfig, pipeline: Pipeline, args: argparse.Namespace) -> dict[str, Any]:
    project = f"e2e-cap-{pipeline.app_id[-8:]}"
    start = asyncio.run(end_offsets(kafka, [PARTIALS]))
    follower = PartialsFollower(kafka.bootstrap_servers, start, {project})
    samples = Samples()
    offsets_before = asyncio.run(catalogue_end_offsets(kafka))
    rows_before = asyncio.run(pipeline.rows_stored())
    pipeline.mark()
    generators, (produced, calls, gen_cpu, gen_rss) = run_generators(
        kafka, project, args.events, args.generators, None
    )

    def done(sample: Sample) -> bool:
        if any(process.is_alive() for process in generators):
            return False
        return bool(sample.raw_stored >= produced.value and sample.rolled_up >= calls.value)

    async def follow() -> None:
        await follower.start()
        try:
            await asyncio.wait_for(
                sample_until(samples, metrics_url=pipeline.metrics_url, follower=follower,
                             produced=lambda: int(produced.value), done=done),
                timeout=args.timeout,
            )  # fmt: skip
        finally:
            await follower.stop()

    asyncio.run(follow())
    for process in generators:
        process.join()
    cpu = pipeline.cpu_since_mark()
    traffic = topic_traffic(
        offsets_before, asyncio.run(catalogue_end_offsets(kafka)),
        rows_before, asyncio.run(pipeline.rows_stored()),
    )  # fmt: skip
    total = produced.value
    last = samples.rows[-1]
    produced_done = next(s.at_s for s in samples.rows if s.produced >= total)
    raw_done = next(s.at_s for s in samples.rows if s.raw_stored >= total)
    return {
        "project": project,
        "events": total,
        "completions": calls.value,
        "produce_s": produced_done,
        "raw_stored_s": raw_done,
        "end_to_end_s": last.at_s,
        "produced_per_s": total / produced_done,
        "raw_stored_per_s": total / raw_done,
        "end_to_end_per_s": total / last.at_s,
        "cpu_s": {**cpu, "generators": gen_cpu.value},
        "topics": traffic,
        "generators_peak_rss_mb": gen_rss.value,
        "series": samples.rates(),
    }


def steady(kafka: KafkaConfig, pipeline: Pipeline, args: argparse.Namespace) -> tuple[str, int]:
    """The freshness phase: `args.rate` events/s asked of `args.fresh_generators` processes
    (a share each) for `args.seconds`; the project and the events produced."""
    project = f"e2e-rate-{pipeline.app_id[-8:]}"
    processes = args.fresh_generators
    generators, (produced, *_) = run_generators(
        kafka, project, int(args.rate * args.seconds), processes, args.rate / processes
    )
    for process in generators:
        process.join()
    lag = asyncio.run(
        wait_until_stored(kafka, pipeline.app_id, within_s=120, topics=list(CONSUMED_TOPICS))
    )
    lag += asyncio.run(
        wait_until_stored(kafka, pipeline.sink_group, within_s=120,
                          topics=[spec.name for spec in TOPICS])
    )  # fmt: skip
    if lag:
        raise RuntimeError(f"the pipeline did not drain: lag {lag}")
    return project, int(produced.value)


def drain_ours(kafka: KafkaConfig, folder: Path, start: dict[TopicPartition, int],
               project: str, calls: int) -> float:  # fmt: skip
    """Seconds a fresh worker alone takes from the 10th to the 90th percent of `calls`
    completions of `project` counted in its rollups (clear of start-up)."""
    app_id = f"e2e-drain-{uuid.uuid4().hex[:8]}"
    offsets = asyncio.run(catalogue_end_offsets(kafka))
    offsets.update(start)
    asyncio.run(commit_group_offsets(kafka, app_id, offsets))
    partials = asyncio.run(end_offsets(kafka, [PARTIALS]))
    follower = PartialsFollower(kafka.bootstrap_servers, partials, {project})
    follower.marks = {calls // 10: 0.0, calls * 9 // 10: 0.0}
    worker = worker_process(kafka, app_id=app_id, data_dir=folder / "drain-state",
                            log_path=folder / "drain.log")  # fmt: skip

    async def follow() -> float:
        await follower.start()
        try:
            while follower.counted < calls:
                await follower.poll()
            return follower.marks[calls * 9 // 10] - follower.marks[calls // 10]
        finally:
            await follower.stop()

    try:
        return asyncio.run(asyncio.wait_for(follow(), timeout=900))
    finally:
        worker.stop()


def list_prices() -> dict[str, list[float]]:
    """The peer's price table: today's built-in list price of every generated model."""
    registry, now, prices = default_registry(), datetime.now(UTC), {}
    for model in e2e_load.MODELS:
        provider = e2e_load.provider_of(model)
        try:
            price = registry.price_at(provider, model, now)
        except UnknownModelPrice:
            continue
        cached = price.cached_prompt_per_million
        prices[f"{provider}/{model}"] = [
            price.prompt_per_million,
            price.prompt_per_million if cached is None else cached,
            price.completion_per_million,
        ]
    return prices


def drain_peer(kafka: KafkaConfig, start: dict[TopicPartition, int], project: str,
               calls: int) -> float:  # fmt: skip
    """Seconds quixstreams alone takes from the 10th to the 90th percent of `calls`
    completions of `project` (its own environment: benchmarks/peer)."""
    group = f"e2e-quix-{uuid.uuid4().hex[:8]}"
    asyncio.run(commit_group_offsets(kafka, group, start))
    peer = subprocess.run(
        ["uv", "run", "--frozen", "--project", str(PEER.parent), "python", str(PEER),
         kafka.bootstrap_servers, group, project, str(calls), json.dumps(list_prices())],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    lines = [line for line in peer.stdout.splitlines() if line.startswith("peer:")]
    if not lines:
        raise RuntimeError(f"quixstreams failed:\n{peer.stdout[-2000:]}{peer.stderr[-4000:]}")
    return float(lines[-1].split("10-90%: ")[1].split()[0])


def compare_with_peer(
    kafka: KafkaConfig, folder: Path, start: dict[TopicPartition, int], cap: dict[str, Any],
    trials: int,
) -> dict[str, Any]:  # fmt: skip
    """The capacity phase's completions drained by ours and by quixstreams, alternated
    trial by trial (drift on the machine hits both); each trial's ratio and their spread."""
    calls, project = cap["completions"], cap["project"]
    ours, peer = [], []
    for trial in range(trials):
        ours.append(drain_ours(kafka, folder / f"drain-{trial}", start, project, calls))
        peer.append(drain_peer(kafka, start, project, calls))
    ratios = [p / o for o, p in zip(ours, peer, strict=True)]
    spread = sorted(ratios)
    return {
        "completions": calls,
        "ours_s": ours,
        "quixstreams_s": peer,
        "ours_per_s": [0.8 * calls / s for s in ours],
        "quixstreams_per_s": [0.8 * calls / s for s in peer],
        "ratios": ratios,
        "ratio_median": spread[len(spread) // 2],
        "ratio_min": spread[0],
        "ratio_max": spread[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_200_000, help="capacity phase events")
    parser.add_argument("--generators", type=int, default=2, help="generator processes")
    parser.add_argument("--rate", type=float, default=100_000, help="freshness phase events/s")
    parser.add_argument("--seconds", type=float, default=20, help="freshness phase length")
    parser.add_argument(
        "--fresh-generators", type=int, default=2, help="freshness phase generator processes"
    )
    parser.add_argument("--timeout", type=float, default=900, help="capacity phase limit, s")
    parser.add_argument(
        "--drains", type=int, default=3, help="alternated drain trials each (0: no peer)"
    )
    parser.add_argument("--out", type=Path, default=Path(".meterstream/bench"))
    args = parser.parse_args()

    kafka = benchmark_kafka()
    folder = Path(tempfile.mkdtemp(prefix="ms-bench-e2e-"))
    run = uuid.uuid4().hex[:8]
    start = asyncio.run(end_offsets(kafka, [COMPLETIONS]))
    store = benchmark_store("bench_e2e")
    pipeline = Pipeline(kafka, folder, run, store)
    try:
        report: dict[str, Any] = {"capacity": capacity(kafka, pipeline, args)}
        fresh_project, fresh_events = steady(kafka, pipeline, args)
        report["peak_rss_mb"] = pipeline.rss()
    finally:
        pipeline.stop()
    warehouse = store.warehouse
    try:
        cap = report["capacity"]
        stored = warehouse.query_rows(
            "SELECT count() AS n, uniqExact(event_id) AS u FROM raw_completions FINAL"
            " WHERE project = {p:String}", params={"p": cap["project"]},
        )[0]  # fmt: skip
        cap["stored_completions"], cap["unique_completions"] = stored["n"], stored["u"]
        raw_ms = freshness(warehouse, fresh_project)
        report["freshness"] = {
            "asked_per_s": args.rate,
            "events": fresh_events,
            # event time is send time: the span of the completions' times is the sending's
            "offered_per_s": fresh_events / max(raw_ms["span_s"], 1e-9),
            "raw_ms": raw_ms,
            "rollup_ms": rollup_freshness(warehouse, fresh_project),
            "series": freshness_per_second(warehouse, fresh_project),
        }
    finally:
        store.drop()
    if args.drains:
        report["peer"] = compare_with_peer(kafka, folder, start, report["capacity"], args.drains)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "e2e-report.json").write_text(json.dumps(report, indent=2))
    write_chart(report, args.out / "e2e-chart.png")
    print_table(report, args.out)


def print_table(report: dict[str, Any], out: Path) -> None:
    cap, fresh, peer = report["capacity"], report["freshness"], report.get("peer")
    pipeline_us = (
        1e6 * sum(v for name, v in cap["cpu_s"].items() if name != "generators") / cap["events"]
    )
    rows = [
        ("events produced (capacity phase)", f"{cap['events']:,}"),
        ("produced events/s (generators)", f"{cap['produced_per_s']:,.0f}"),
        ("raw stored events/s (end to end)", f"{cap['raw_stored_per_s']:,.0f}"),
        ("raw stored + rolled up events/s (end to end)", f"{cap['end_to_end_per_s']:,.0f}"),
        ("completions stored / unique / produced",
         f"{cap['stored_completions']:,} / {cap['unique_completions']:,} / {cap['completions']:,}"),
        ("freshness phase: events/s asked / offered",
         f"{fresh['asked_per_s']:,.0f} / {fresh['offered_per_s']:,.0f}"),
        ("raw freshness p50 / p99 (ms)",
         f"{fresh['raw_ms']['p50']:.0f} / {fresh['raw_ms']['p99']:.0f}"),
        ("rollup freshness per 10 s window p50 / p99 (ms)",
         f"{fresh['rollup_ms']['p50']:.0f} / {fresh['rollup_ms']['p99']:.0f}"),
        ("CPU s: " + ", ".join(cap["cpu_s"]), ", ".join(f"{v:.1f}" for v in cap["cpu_s"].values())),
        ("pipeline CPU µs/event (all but the generators)",
         f"{pipeline_us:.1f} = " + " + ".join(
             f"{name} {1e6 * v / cap['events']:.1f}" for name, v in cap["cpu_s"].items()
             if name != "generators")),
        ("peak RSS MB: " + ", ".join(report["peak_rss_mb"]) + ", generators",
         ", ".join(f"{v:.0f}" for v in report["peak_rss_mb"].values())
         + f", {cap['generators_peak_rss_mb']:.0f}"),
    ]  # fmt: skip
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if peer:
        print("drain alone, alternated trials: ours / quixstreams completions/s, ratio")
        for trial, (o, q, r) in enumerate(
            zip(peer["ours_per_s"], peer["quixstreams_per_s"], peer["ratios"], strict=True)
        ):
            print(f"  trial {trial + 1}: {o:>10,.0f} / {q:>8,.0f}  {r:.2f}x")
        print(f"  ratio median {peer['ratio_median']:.2f}x,"
              f" range {peer['ratio_min']:.2f}x to {peer['ratio_max']:.2f}x")  # fmt: skip
    print("capacity phase, per topic: messages appended, events stored from them")
    for topic, counts in cap["topics"].items():
        messages, events = counts["messages"], counts["events"]
        print(f"  {topic:<42} {messages:>9,} {events:>11,}  ({events / messages:,.0f}/message)")
    print(f"report: {out / 'e2e-report.json'}  chart: {out / 'e2e-chart.png'}")


if __name__ == "__main__":
    main()

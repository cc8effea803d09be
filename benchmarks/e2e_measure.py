"""What the end-to-end benchmark samples while it runs and reads from the store afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from meterstream_contracts import TOPICS, split_envelope
from meterstream_warehouse import Warehouse
from meterstream_warehouse.tables import TABLES, table_for_kind

PARTIALS = "meterstream.derived.inference_rollups"
FRESHNESS_MS = (
    "quantile(0.5)(dateDiff('millisecond', time, ingested_at)) AS p50,"
    " quantile(0.99)(dateDiff('millisecond', time, ingested_at)) AS p99"
)
"""Event time → row stored (the store's own `ingested_at`), p50 and p99 in ms."""
RAW_TABLES = {spec.name for spec in TABLES.values() if spec.role == "raw"}


@dataclass
class Sample:
    at_s: float
    produced: int
    raw_stored: int
    rolled_up: int
    """Completions counted in the 60 s partials the workers published."""


@dataclass
class Samples:
    rows: list[Sample] = field(default_factory=list)

    def rates(self) -> list[dict[str, float]]:
        """events/s between consecutive samples."""
        out = []
        for before, after in zip(self.rows, self.rows[1:], strict=False):
            span = max(after.at_s - before.at_s, 1e-9)
            out.append({
                "at_s": round(after.at_s, 2),
                "produced_per_s": (after.produced - before.produced) / span,
                "raw_stored_per_s": (after.raw_stored - before.raw_stored) / span,
                "rolled_up_per_s": (after.rolled_up - before.rolled_up) / span,
            })  # fmt: skip
        return out


async def rows_stored(client: httpx.AsyncClient) -> dict[str, int]:
    """Rows the sink stored so far per table (its /metrics counter)."""
    text = (await client.get("/metrics")).text
    return {
        sample.labels["table"]: int(sample.value)
        for family in text_string_to_metric_families(text)
        if family.name == "meterstream_sink_rows_stored"
        for sample in family.samples
        if sample.name.endswith("_total")
    }


async def raw_rows_stored(client: httpx.AsyncClient) -> int:
    """Rows the sink stored into raw tables so far."""
    stored = await rows_stored(client)
    return sum(rows for table, rows in stored.items() if table in RAW_TABLES)


def topic_traffic(
    before: dict[TopicPartition, int],
    after: dict[TopicPartition, int],
    rows_before: dict[str, int],
    rows_after: dict[str, int],
) -> dict[str, dict[str, int]]:
    """Per topic that carried anything: messages appended (end offsets) and events in
    them (rows the sink stored into the topic's table)."""
    messages: dict[str, int] = {}
    for tp, end in after.items():
        messages[tp.topic] = messages.get(tp.topic, 0) + end - before.get(tp, 0)
    traffic = {}
    for topic, count in sorted(messages.items()):
        if count:
            table = table_for_kind(TOPICS.by_name(topic).kind).name
            events = rows_after.get(table, 0) - rows_before.get(table, 0)
            traffic[topic] = {"messages": count, "events": events}
    return traffic


class PartialsFollower:
    """Sums the 60 s partials' completion counts of chosen projects, as published."""

    def __init__(self, bootstrap: str, start: dict[TopicPartition, int], projects: set[str]):
        self._bootstrap = bootstrap
        self._consumer: AIOKafkaConsumer | None = None
        self._start = start
        self._projects = {p.encode() for p in projects}
        self.counted = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.marks: dict[int, float] = {}
        """Counts to watch for → when the count first reached them."""

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers=self._bootstrap, enable_auto_commit=False)
        await consumer.start()
        consumer.assign(list(self._start))
        for tp, offset in self._start.items():
            consumer.seek(tp, offset)
        self._consumer = consumer

    async def poll(self) -> None:
        assert self._consumer is not None, "start() first"
        batches = await self._consumer.getmany(timeout_ms=50, max_records=5_000)
        for messages in batches.values():
            for message in messages:
                for line in split_envelope(message.value or b""):
                    record = orjson.loads(line)
                    if (
                        record["window_seconds"] == 60
                        and record["project"].encode() in self._projects
                    ):
                        self.counted += record["count"]
                        self.last_at = time.time()
                        self.first_at = self.first_at or self.last_at
                        for mark in self.marks:
                            if not self.marks[mark] and self.counted >= mark:
                                self.marks[mark] = self.last_at

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


async def sample_until(
    samples: Samples,
    *,
    metrics_url: str,
    follower: PartialsFollower,
    produced: Callable[[], int],
    done: Callable[[Sample], bool],
    every_s: float = 0.5,
) -> None:
    """Append a sample every `every_s` until `done(sample)` is true."""
    started = time.monotonic()
    next_at = started
    async with httpx.AsyncClient(base_url=metrics_url, timeout=5) as client:
        while True:
            await follower.poll()
            if time.monotonic() < next_at:
                continue
            next_at += every_s
            sample = Sample(
                time.monotonic() - started,
                produced(),
                await raw_rows_stored(client),
                follower.counted,
            )
            samples.rows.append(sample)
            if done(sample):
                return
            await asyncio.sleep(0)


def freshness(warehouse: Warehouse, project: str) -> dict[str, float]:
    """Event time → raw row stored, per event of `project` (ms)."""
    row = warehouse.query_rows(
        f"SELECT count() AS n, {FRESHNESS_MS},"
        " dateDiff('millisecond', min(time), max(time)) / 1000 AS span_s"
        " FROM raw_completions WHERE project = {p:String}",
        params={"p": project},
    )[0]
    return {key: float(value) for key, value in row.items()}


def rollup_freshness(warehouse: Warehouse, project: str) -> dict[str, float]:
    """Per 10 s window of `project` (and model): from the window's last event to the moment
    the store held partials counting all of its events (ms)."""
    row = warehouse.query_rows(
        "WITH raw AS (SELECT model, toStartOfInterval(time, INTERVAL 10 second) AS w,"
        "                    count() AS n, max(time) AS last_event"
        "             FROM raw_completions WHERE project = {p:String} GROUP BY model, w),"
        " parts AS (SELECT model, window_start AS w, sum(count) AS n,"
        "                  max(ingested_at) AS stored"
        "           FROM inference_rollup_partials FINAL"
        "           WHERE project = {p:String} AND window_seconds = 10 GROUP BY model, w)"
        " SELECT count() AS windows, countIf(parts.n = raw.n) AS complete,"
        " quantile(0.5)(dateDiff('millisecond', raw.last_event, parts.stored)) AS p50,"
        " quantile(0.99)(dateDiff('millisecond', raw.last_event, parts.stored)) AS p99"
        " FROM raw INNER JOIN parts ON raw.model = parts.model AND raw.w = parts.w",
        params={"p": project},
    )[0]
    return {key: float(value) for key, value in row.items()}


def freshness_per_second(warehouse: Warehouse, project: str) -> list[dict[str, float]]:
    """Raw freshness p50/p99 per second of event time (ms), for the chart."""
    rows = warehouse.query_rows(
        "SELECT toUnixTimestamp(toStartOfSecond(time)) AS second, count() AS events,"
        f" {FRESHNESS_MS}"
        " FROM raw_completions WHERE project = {p:String} GROUP BY second ORDER BY second",
        params={"p": project},
    )
    first = rows[0]["second"] if rows else 0
    return [
        {
            "at_s": row["second"] - first,
            "events": row["events"],
            "p50": row["p50"],
            "p99": row["p99"],
        }
        for row in rows
    ]

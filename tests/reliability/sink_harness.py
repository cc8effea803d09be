"""Run the sink as a real process against the test broker and a database of its own on the
test session's ClickHouse server."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from meterstream_cli.processes import ServiceProcess
from meterstream_contracts import TOPICS, Completion, Event
from meterstream_kafka import (
    KafkaConfig,
    apply_topics,
    commit_group_offsets,
    group_lag,
    publish_once,
    start_group_at_end,
)
from meterstream_warehouse import Warehouse


@dataclass
class SinkHarness:
    kafka: KafkaConfig
    folder: Path
    store_env: dict[str, str] = field(default_factory=dict)
    """Points the sink at the test's database (the `store_env` fixture)."""
    group: str = ""

    async def prepare(self, *, at: dict[TopicPartition, int] | None = None) -> None:
        """Topics exist and a fresh group starts at the current log end, or `at` (the
        registries from their start: the store knows every published price)."""
        self.group = f"rel-{uuid.uuid4().hex[:8]}"
        await apply_topics(self.kafka, TOPICS)
        if at is None:
            await start_group_at_end(self.kafka, self.group, keep_registries=True)
        else:
            await commit_group_offsets(self.kafka, self.group, at)

    def start(self, run: str, **settings: str) -> ServiceProcess:
        env = {
            "MS_KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            **self.store_env,
            "MS_SINK_GROUP_ID": self.group,
            "MS_SINK_MAX_BATCH_SECONDS": "0.3",
            **{f"MS_SINK_{name.upper()}": value for name, value in settings.items()},
        }
        process = ServiceProcess("meterstream_sink", log_path=self.folder / f"{run}.log", env=env)
        process.wait_for_line("sink ready", timeout=120)
        return process

    async def lag(self) -> int:
        topics = [spec.name for spec in TOPICS.event_topics]
        return sum((await group_lag(self.kafka, group_id=self.group, topics=topics)).values())

    async def wait_caught_up(self, process: ServiceProcess, *, within_s: float = 120) -> None:
        deadline = time.monotonic() + within_s
        while await self.lag():
            assert time.monotonic() < deadline, f"sink did not catch up:\n{process.tail()}"
            assert process.returncode is None, f"sink exited:\n{process.tail()}"
            await asyncio.sleep(0.3)


def stored_rows(store: Warehouse, sql: str, **params: str) -> list[dict[str, Any]]:
    """Rows of a query on the database a harness's sink writes."""
    return store.query_rows(sql, params=params)


def completions(project: str, count: int) -> list[Event]:
    start = datetime.now(UTC) - timedelta(minutes=1)
    return [
        Completion(
            project=project,
            model=f"model-{i % 3}",
            started_at=start,
            time=start + timedelta(microseconds=i),
            latency_ms=float(100 + i % 900),
            input_tokens=i % 1000,
            output_tokens=i % 200,
        )
        for i in range(count)
    ]


async def publish(kafka: KafkaConfig, events: list[Event], *, per_envelope: int = 250) -> None:
    await publish_once(kafka, events, max_events_per_envelope=per_envelope)

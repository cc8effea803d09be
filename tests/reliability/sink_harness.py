"""Run the sink as a real process against the test broker and a chDB folder of its own."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
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
from meterstream_warehouse.chdb_backend import ChdbWarehouse


@dataclass
class SinkHarness:
    kafka: KafkaConfig
    folder: Path
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
            "MS_WAREHOUSE_CHDB_PATH": str(self.folder / "chdb"),
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


def stored_rows(folder: Path, sql: str, **params: str) -> list[dict[str, Any]]:
    """Rows of a query on the chDB store a harness's sink wrote (the sink stopped)."""
    warehouse = ChdbWarehouse(folder / "chdb", database="meterstream")
    try:
        return warehouse.query_rows(sql, params=params)
    finally:
        warehouse.close()


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

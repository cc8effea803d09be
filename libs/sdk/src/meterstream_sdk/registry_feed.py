"""Keep a KeyRegistry in step with the compacted metric-key topic (or the gateway)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from meterstream_contracts import TOPICS, split_envelope
from meterstream_kafka import KafkaConfig
from meterstream_sdk.keys import KeyRegistry

log = logging.getLogger("meterstream_sdk")


def apply_envelope(registry: KeyRegistry, value: bytes) -> None:
    for line in split_envelope(value):
        try:
            record = orjson.loads(line)
            registry.apply(record)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignoring a malformed metric-key record")


class KafkaKeyFeed:
    """Replays the registry topic to its end at start, then follows it in the background."""

    def __init__(self, config: KafkaConfig, registry: KeyRegistry) -> None:
        self._registry = registry
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, within_s: float = 30.0) -> None:
        topic = TOPICS.for_kind("metric_key").name
        await self._consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for p in sorted(self._consumer.partitions_for_topic(topic) or {0})
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        ends = await self._consumer.end_offsets(partitions)
        deadline = asyncio.get_running_loop().time() + within_s
        while any([await self._consumer.position(p) < ends[p] for p in partitions]):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("metric-key registry not fully loaded in %.0fs", within_s)
                break
            await self._poll()
        self._task = asyncio.create_task(self._follow(), name="meterstream-key-feed")

    async def _poll(self) -> None:
        batches = await self._consumer.getmany(timeout_ms=200)
        for messages in batches.values():
            for message in messages:
                if message.value:
                    apply_envelope(self._registry, message.value)

    async def _follow(self) -> None:
        while True:
            await self._poll()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()

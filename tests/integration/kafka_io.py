"""Reading back what a test produced, from the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from meterstream_kafka import KafkaConfig, commit_group_offsets
from meterstream_kafka import end_offsets as kafka_end_offsets


async def end_offsets(config: KafkaConfig, topic: str) -> dict[TopicPartition, int]:
    return await kafka_end_offsets(config, [topic])


async def read_from(
    config: KafkaConfig,
    start: dict[TopicPartition, int],
    *,
    until: Callable[[list[bytes]], bool],
    within_s: float = 30.0,
) -> list[bytes]:
    """Values written after `start`, read until `until(values)` holds or time runs out."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + within_s
        while not until(values) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            values.extend(m.value for messages in batches.values() for m in messages if m.value)
            await asyncio.sleep(0)
    finally:
        await consumer.stop()
    return values


async def catalogue_end_offsets(config: KafkaConfig) -> dict[TopicPartition, int]:
    """End offsets of every partition of every catalogue topic."""
    from meterstream_contracts import TOPICS

    return await kafka_end_offsets(config, [spec.name for spec in TOPICS])


async def position_group(
    config: KafkaConfig, group_id: str, offsets: dict[TopicPartition, int]
) -> None:
    """Start a new consumer group at `offsets` instead of at the log start.

    Tests share one broker; a group that starts at the log start would replay
    every earlier test's traffic (poison bursts included).
    """
    await commit_group_offsets(config, group_id, offsets)

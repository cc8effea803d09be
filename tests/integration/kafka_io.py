"""Reading back what a test produced, from the real broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from meterstream_kafka import KafkaConfig
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

"""Read whole topics: every value from the log start to the end offsets taken at the start."""

from __future__ import annotations

from typing import NamedTuple

from aiokafka import AIOKafkaConsumer

from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.offsets import end_offsets


class StoredMessage(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes


async def read_topics(config: KafkaConfig, topics: list[str]) -> list[StoredMessage]:
    """Every message now in the topics (with a value), in log order per partition."""
    ends = await end_offsets(config, topics)
    pending = {partition for partition, end in ends.items() if end > 0}
    found: list[StoredMessage] = []
    if not pending:
        return found
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        metadata_max_age_ms=config.metadata_max_age_ms,
    )
    await consumer.start()
    try:
        consumer.assign(list(pending))
        await consumer.seek_to_beginning(*pending)
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for partition, messages in batches.items():
                for message in messages:
                    if message.value is not None and message.offset < ends[partition]:
                        found.append(
                            StoredMessage(
                                partition.topic,
                                partition.partition,
                                message.offset,
                                message.timestamp,
                                message.value,
                            )
                        )
            pending = {p for p in pending if await consumer.position(p) < ends[p]}
    finally:
        await consumer.stop()
    return found

"""Consumer-group lag: how many messages a group has not committed yet."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorNotAvailableError, NotCoordinatorError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from meterstream_kafka.config import KafkaConfig


async def group_lag(
    config: KafkaConfig, *, group_id: str, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """Per partition: end offset minus the group's committed offset (0 when none committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    probe = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        described = await admin.describe_topics(list(topics))
        partitions = [
            TopicPartition(item["topic"], part["partition"])
            for item in described
            for part in item["partitions"]
        ]
        if not partitions:
            return {}
        ends = await probe.end_offsets(partitions)
        # The group coordinator may still be loading right after a broker starts.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((CoordinatorNotAvailableError, NotCoordinatorError)),
            wait=wait_exponential(multiplier=0.1, max=2),
            stop=stop_after_delay(30),
            reraise=True,
        ):
            with attempt:
                committed = await admin.list_consumer_group_offsets(group_id, partitions=partitions)
        lag: dict[TopicPartition, int] = {}
        for partition in partitions:
            meta = committed.get(partition)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[partition] = max(0, ends[partition] - done)
        return lag
    finally:
        await probe.stop()
        await admin.close()

"""Consumer-group lag: how many messages a group has not committed yet."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorNotAvailableError, NotCoordinatorError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.offsets import end_offsets


async def group_lag(
    config: KafkaConfig, *, group_id: str, topics: Iterable[str]
) -> dict[TopicPartition, int]:
    """Per partition: end offset minus the group's committed offset (0 when none committed)."""
    ends = await end_offsets(config, topics)
    if not ends:
        return {}
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    await admin.start()
    try:
        # The group coordinator may still be loading right after a broker starts.
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type((CoordinatorNotAvailableError, NotCoordinatorError)),
            wait=wait_exponential(multiplier=0.1, max=2),
            stop=stop_after_delay(30),
            reraise=True,
        ):
            with attempt:
                committed = await admin.list_consumer_group_offsets(group_id, partitions=list(ends))
    finally:
        await admin.close()
    lag: dict[TopicPartition, int] = {}
    for partition, end in ends.items():
        meta = committed.get(partition)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag[partition] = max(0, end - done)
    return lag


async def every_group_lag(
    config: KafkaConfig, groups: Iterable[str] | None = None
) -> dict[str, int]:
    """Messages not yet committed per consumer group (summed over the partitions it has
    committed offsets for): the `groups` named, else every group on the cluster."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, request_timeout_ms=config.request_timeout_ms
    )
    await admin.start()
    try:
        names = (
            sorted(groups)
            if groups is not None
            else sorted(str(group[0]) for group in await admin.list_consumer_groups())
        )
        answers = await asyncio.gather(*(admin.list_consumer_group_offsets(name) for name in names))
    finally:
        await admin.close()
    committed = dict(zip(names, answers, strict=True))
    topics = {partition.topic for offsets in committed.values() for partition in offsets}
    ends = await end_offsets(config, topics) if topics else {}
    return {
        group: sum(
            max(0, ends.get(partition, meta.offset) - meta.offset)
            for partition, meta in offsets.items()
            if meta.offset >= 0
        )
        for group, offsets in committed.items()
    }

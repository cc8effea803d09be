"""End offsets of topics, and placing a new consumer group at chosen offsets."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from meterstream_contracts import TOPICS
from meterstream_kafka.config import KafkaConfig


async def end_offsets(config: KafkaConfig, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """The next offset to be written, for every partition of `topics` that exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=config.bootstrap_servers)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics(list(topics))
        partitions = [
            TopicPartition(item["topic"], part["partition"])
            for item in described
            for part in item["partitions"]
        ]
        if not partitions:
            return {}
        # Assigned first, the partitions' leaders are in the consumer's metadata at once;
        # unassigned, end_offsets waits about 2 s for a metadata refresh that adds them.
        consumer.assign(partitions)
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()
        await admin.close()


async def commit_group_offsets(
    config: KafkaConfig, group_id: str, offsets: dict[TopicPartition, int]
) -> None:
    """Commit `offsets` for `group_id`, e.g. so a new group starts at the log end."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def catalogue_end_offsets(config: KafkaConfig) -> dict[TopicPartition, int]:
    """End offsets of every partition of every catalogue topic."""
    return await end_offsets(config, [spec.name for spec in TOPICS])


async def new_group_offsets(
    config: KafkaConfig, *, keep_registries: bool = False
) -> dict[TopicPartition, int]:
    """Today's end of every catalogue topic: where a new group starts to read only what
    comes next (not what earlier runs or tests left on a shared broker).

    With `keep_registries` the compacted registry topics are left out, so a group placed
    there reads them from their start: a store filled by it then knows every published
    price, key and rule (reconcile prices with them).
    """
    offsets = await catalogue_end_offsets(config)
    if keep_registries:
        registries = {spec.name for spec in TOPICS.with_role("registry")}
        offsets = {tp: end for tp, end in offsets.items() if tp.topic not in registries}
    return offsets


async def start_group_at_end(
    config: KafkaConfig, group_id: str, *, keep_registries: bool = False
) -> None:
    """Place a new consumer group at `new_group_offsets`."""
    offsets = await new_group_offsets(config, keep_registries=keep_registries)
    await commit_group_offsets(config, group_id, offsets)

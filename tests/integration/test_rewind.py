"""The workers' seek after a rebalance, against the real broker: a partition committed at
offset 0, or never committed, goes back to its start (aiokafka's own seek leaves both past
the records faust dropped, and the crash storm lost those records)."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from meterstream_kafka import KafkaConfig, commit_group_offsets
from meterstream_workers.rewind import rewind_to_committed

pytestmark = pytest.mark.kafka

RECORDS = 5


async def positions_after_reading_all(
    config: KafkaConfig, topic: str, group: str, reset: str
) -> tuple[dict[int, int], dict[int, int], dict[int, int]]:
    """(positions after reading everything, after aiokafka's seek_to_committed,
    after rewind_to_committed) per partition."""
    parts = [TopicPartition(topic, 0), TopicPartition(topic, 1), TopicPartition(topic, 2)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset=reset,
    )
    await consumer.start()
    try:
        consumer.assign(parts)
        for tp in parts:  # as a fetch made before a rebalance had read them
            consumer.seek(tp, 0)
        read = 0
        while read < RECORDS * len(parts):
            batches = await consumer.getmany(timeout_ms=1000)
            read += sum(len(records) for records in batches.values())

        async def where() -> dict[int, int]:
            return {tp.partition: await consumer.position(tp) for tp in parts}

        fetched = await where()
        await consumer.seek_to_committed()
        library = await where()
        await rewind_to_committed(consumer, reset=reset)
        return fetched, library, await where()
    finally:
        await consumer.stop()


@pytest.mark.parametrize("reset", ["earliest", "latest"])
def test_partitions_committed_at_zero_or_never_are_read_again(
    kafka_config: KafkaConfig, reset: str
) -> None:
    topic = f"rewind-{uuid.uuid4().hex[:8]}"
    group = f"rewind-{uuid.uuid4().hex[:8]}"

    async def prepare() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_config.bootstrap_servers)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, 3, 1)])
        finally:
            await admin.close()
        producer = AIOKafkaProducer(bootstrap_servers=kafka_config.bootstrap_servers)
        await producer.start()
        try:
            for partition in range(3):
                for i in range(RECORDS):
                    await producer.send_and_wait(topic, f"{i}".encode(), partition=partition)
        finally:
            await producer.stop()
        # partition 0 committed at its start, 1 at offset 2, 2 never committed
        await commit_group_offsets(
            kafka_config, group, {TopicPartition(topic, 0): 0, TopicPartition(topic, 1): 2}
        )

    asyncio.run(prepare())
    fetched, library, rewound = asyncio.run(
        positions_after_reading_all(kafka_config, topic, group, reset)
    )
    assert fetched == {0: RECORDS, 1: RECORDS, 2: RECORDS}
    # aiokafka seeks only partitions committed past 0: the reason rewind.py exists
    assert library == {0: RECORDS, 1: 2, 2: RECORDS}
    never_committed = 0 if reset == "earliest" else RECORDS  # "latest" has no start to go to
    assert rewound == {0: 0, 1: 2, 2: never_committed}

"""Consumer lag per group, as the dashboard's health strip reads it, on the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from meterstream_kafka import (
    KafkaConfig,
    commit_group_offsets,
    every_group_lag,
    make_producer,
)

pytestmark = pytest.mark.kafka


async def test_the_lag_of_each_group_is_what_it_has_not_committed(
    kafka_config: KafkaConfig,
) -> None:
    topic = f"lag-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_config.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    producer = make_producer(kafka_config)
    await producer.start()
    try:
        for partition in (0, 1):
            futures = [await producer.send(topic, b"x", partition=partition) for _ in range(10)]
            for future in futures:
                await future
    finally:
        await producer.stop()
    behind, done = f"behind-{topic}", f"done-{topic}"
    await commit_group_offsets(
        kafka_config, behind, {TopicPartition(topic, 0): 4, TopicPartition(topic, 1): 10}
    )
    await commit_group_offsets(
        kafka_config, done, {TopicPartition(topic, 0): 10, TopicPartition(topic, 1): 10}
    )

    assert await every_group_lag(kafka_config, [behind, done]) == {behind: 6, done: 0}
    every = await every_group_lag(kafka_config)
    assert (every[behind], every[done]) == (6, 0)

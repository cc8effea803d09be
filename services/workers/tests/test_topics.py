"""The declared consumed topics are exactly the ones the app's agents subscribe to."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import SubscriptionState
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from meterstream_kafka import KafkaConfig, Replication
from meterstream_workers.app import create_app
from meterstream_workers.config import WorkerConfig
from meterstream_workers.topics import CONSUMED_TOPICS


def test_consumed_topics_are_the_agents_topics(tmp_path: Path) -> None:
    app = create_app(WorkerConfig(data_dir=str(tmp_path)), KafkaConfig())
    subscribed = {topic for agent in app.agents.values() for topic in agent.channel.topics}
    assert subscribed == set(CONSUMED_TOPICS)


def test_a_cluster_s_replication_reaches_faust_s_changelogs_and_producers(tmp_path: Path) -> None:
    three = Replication.for_cluster(3)
    app = create_app(WorkerConfig(data_dir=str(tmp_path)), KafkaConfig(), three)
    assert app.conf.topic_replication_factor == 3
    changelogs = [table.changelog_topic for table in app.tables.values()]
    assert changelogs
    assert all(topic.config == {"min.insync.replicas": "2"} for topic in changelogs)
    producer: Any = app.producer
    settings = {**producer._settings_default(), **producer._settings_extra()}
    assert settings["acks"] == -1
    assert settings["enable_idempotence"] is True
    assert settings["metadata_max_age_ms"] == KafkaConfig().metadata_max_age_ms


async def test_the_livelock_detector_passes_over_a_partition_being_placed(tmp_path: Path) -> None:
    """aiokafka asserts on the position of a partition whose offset is still being looked
    up; faust's detector read it and crashed the worker (the cluster fault suite)."""
    create_app(WorkerConfig(data_dir=str(tmp_path)), KafkaConfig())  # installs the patches
    subscriptions = SubscriptionState()
    subscriptions.assign_from_user({TopicPartition("meterstream.raw.completions", 0)})
    state = subscriptions.subscription.assignment.state_value(
        TopicPartition("meterstream.raw.completions", 0)
    )
    with pytest.raises(AssertionError):
        _ = state.position  # what faust read
    thread = SimpleNamespace(_consumer=SimpleNamespace(_fetcher=SimpleNamespace(
        _subscriptions=subscriptions
    )))  # fmt: skip
    verify: Any = AIOKafkaConsumerThread.verify_event_path
    assert verify(thread, 0.0, TP("meterstream.raw.completions", 0)) is None

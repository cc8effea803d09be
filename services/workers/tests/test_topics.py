"""The declared consumed topics are exactly the ones the app's agents subscribe to."""

from __future__ import annotations

from pathlib import Path

from meterstream_kafka import KafkaConfig
from meterstream_workers.app import create_app
from meterstream_workers.config import WorkerConfig
from meterstream_workers.topics import CONSUMED_TOPICS


def test_consumed_topics_are_the_agents_topics(tmp_path: Path) -> None:
    app = create_app(WorkerConfig(data_dir=str(tmp_path)), KafkaConfig())
    subscribed = {topic for agent in app.agents.values() for topic in agent.channel.topics}
    assert subscribed == set(CONSUMED_TOPICS)

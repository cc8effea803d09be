"""The broker a benchmark talks to: MS_KAFKA_BOOTSTRAP_SERVERS, else the local Apache Kafka."""

from __future__ import annotations

import asyncio
import os

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, LocalBroker, apply_topics, find_broker_script


def benchmark_kafka() -> KafkaConfig:
    """The configured brokers, or the local broker started on demand; topics applied."""
    kafka = KafkaConfig()
    if "MS_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        kafka = KafkaConfig(bootstrap_servers=LocalBroker(find_broker_script()).start())
    asyncio.run(apply_topics(kafka, TOPICS))
    return kafka

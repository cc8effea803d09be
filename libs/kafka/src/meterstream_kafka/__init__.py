"""meterstream Kafka plumbing: config, producers, topic apply/drift, the local broker."""

from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.errors import KafkaError, LocalBrokerError
from meterstream_kafka.lag import every_group_lag, group_lag
from meterstream_kafka.local_broker import LocalBroker, find_broker_script
from meterstream_kafka.offsets import (
    catalogue_end_offsets,
    commit_group_offsets,
    end_offsets,
    new_group_offsets,
    start_group_at_end,
)
from meterstream_kafka.producer import make_producer, send_messages
from meterstream_kafka.publish import publish_events, publish_lines, publish_once
from meterstream_kafka.registry_feed import RegistryFeed
from meterstream_kafka.replay import read_topics
from meterstream_kafka.topic_admin import (
    admin_client,
    apply_topics,
    cluster_id_of,
    replication_of,
)
from meterstream_kafka.topic_plan import ObservedTopic, Replication, TopicChange, plan_topics

__all__ = [
    "KafkaConfig",
    "KafkaError",
    "LocalBroker",
    "LocalBrokerError",
    "ObservedTopic",
    "RegistryFeed",
    "Replication",
    "TopicChange",
    "admin_client",
    "apply_topics",
    "catalogue_end_offsets",
    "cluster_id_of",
    "commit_group_offsets",
    "end_offsets",
    "every_group_lag",
    "find_broker_script",
    "group_lag",
    "make_producer",
    "new_group_offsets",
    "plan_topics",
    "publish_events",
    "publish_lines",
    "publish_once",
    "read_topics",
    "replication_of",
    "send_messages",
    "start_group_at_end",
]

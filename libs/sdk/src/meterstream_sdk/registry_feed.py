"""Keep a KeyRegistry in step with the compacted metric-key topic."""

from __future__ import annotations

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, RegistryFeed
from meterstream_sdk.keys import KeyRegistry


class KafkaKeyFeed(RegistryFeed):
    """Replays the metric-key topic to its end at start, then follows it in the background."""

    def __init__(self, config: KafkaConfig, registry: KeyRegistry) -> None:
        super().__init__(config, {TOPICS.for_kind("metric_key").name: registry.apply})

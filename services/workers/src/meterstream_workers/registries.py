"""The registries the workers price, score and evaluate with, followed from compacted topics."""

from __future__ import annotations

from typing import Any

from meterstream_contracts import TOPICS
from meterstream_derivations.definitions import DefinitionSet
from meterstream_derivations.feedback import KeyInfo
from meterstream_kafka import KafkaConfig, RegistryFeed
from meterstream_pricing import PricingRegistry, default_registry


class WorkerRegistries:
    """Prices (built-in list prices plus published versions), metric keys, definitions."""

    def __init__(self) -> None:
        self.pricing: PricingRegistry = default_registry()
        self.definitions = DefinitionSet()
        self._keys: dict[tuple[str, str], KeyInfo] = {}

    def apply_key(self, record: dict[str, Any]) -> None:
        ident = (str(record["project"]), str(record["key"]))
        if record.get("deleted"):
            self._keys.pop(ident, None)
        else:
            lower = record.get("scoring") == "lower_is_better"
            boolean = record.get("value_kind") == "bool"
            self._keys[ident] = (
                "lower_is_better" if lower else "higher_is_better",
                "bool" if boolean else "scalar",
            )

    def key_info(self, project: str, key: str) -> KeyInfo | None:
        return self._keys.get((project, key))

    def feed(self, kafka: KafkaConfig) -> RegistryFeed:
        return RegistryFeed(
            kafka,
            {
                TOPICS.for_kind("model_price").name: self.pricing.apply_record,
                TOPICS.for_kind("metric_key").name: self.apply_key,
                TOPICS.for_kind("metric_definition").name: self.definitions.apply,
            },
        )

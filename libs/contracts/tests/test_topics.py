"""The topic catalogue is complete and consistent."""

from __future__ import annotations

from meterstream_contracts import TOPICS, Completion
from meterstream_contracts.topics import DAY_MS


def test_roles_are_all_present() -> None:
    roles = {spec.role for spec in TOPICS}
    assert roles == {"raw", "registry", "derived", "dead_letter", "alerts"}


def test_registries_are_compacted_and_raw_topics_expire() -> None:
    for spec in TOPICS.with_role("registry"):
        assert spec.broker_config()["cleanup.policy"] == "compact"
        assert "retention.ms" not in spec.broker_config()
    for spec in TOPICS.with_role("raw"):
        assert spec.broker_config() == {"cleanup.policy": "delete", "retention.ms": str(7 * DAY_MS)}


def test_key_fields_exist_on_the_value_schema() -> None:
    for spec in TOPICS:
        missing = set(spec.key_fields) - set(spec.value_schema.model_fields)
        assert not missing, f"{spec.name} keys on unknown fields {missing}"


def test_key_of_model_and_mapping_agree() -> None:
    spec = TOPICS.for_kind("completion")
    event = Completion(project="p", model="gpt", started_at="2026-01-01T00:00:00Z", latency_ms=1)
    assert spec.key_of(event) == spec.key_of({"project": "p", "model": "gpt"}) == b"p/gpt"

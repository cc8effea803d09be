"""Topic plans against observed broker state; no I/O."""

from __future__ import annotations

from meterstream_contracts import TOPICS
from meterstream_kafka import ObservedTopic, plan_topics

SPEC = TOPICS.for_kind("completion")


def observed(partitions: int, **config: str) -> dict[str, ObservedTopic]:
    return {SPEC.name: ObservedTopic(SPEC.name, partitions, {**SPEC.broker_config(), **config})}


def test_missing_topic_is_created() -> None:
    (change,) = plan_topics([SPEC], {})
    assert change.action == "create"
    assert not change.is_drift


def test_matching_topic_is_in_sync() -> None:
    (change,) = plan_topics([SPEC], observed(SPEC.partitions))
    assert change.action == "in_sync"


def test_config_drift_is_reported_with_both_values() -> None:
    (change,) = plan_topics([SPEC], observed(SPEC.partitions, **{"retention.ms": "1000"}))
    assert change.action == "alter_config"
    assert change.is_drift
    assert "broker has '1000'" in change.details[0]


def test_fewer_partitions_can_grow_but_more_cannot_shrink() -> None:
    (grow,) = plan_topics([SPEC], observed(SPEC.partitions - 1))
    assert grow.action == "add_partitions"
    (shrink,) = plan_topics([SPEC], observed(SPEC.partitions + 1))
    assert shrink.action == "drift"
    assert "cannot remove partitions" in shrink.details[0]


def test_config_and_partition_drift_are_both_reported() -> None:
    changes = plan_topics([SPEC], observed(1, **{"cleanup.policy": "compact"}))
    assert [c.action for c in changes] == ["alter_config", "add_partitions"]

"""Topic plans against observed broker state; no I/O."""

from __future__ import annotations

import pytest

from meterstream_contracts import TOPICS
from meterstream_kafka import ObservedTopic, Replication, plan_topics

SPEC = TOPICS.for_kind("completion")


def observed(partitions: int, **config: str) -> dict[str, ObservedTopic]:
    wanted = Replication.for_cluster(1).topic_config(SPEC)
    return {SPEC.name: ObservedTopic(SPEC.name, partitions, {**wanted, **config})}


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


@pytest.mark.parametrize(
    ("brokers", "factor", "min_insync"), [(1, 1, 1), (2, 2, 1), (3, 3, 2), (5, 3, 2)]
)
def test_the_cluster_s_size_decides_copies_and_the_in_sync_minimum(
    brokers: int, factor: int, min_insync: int
) -> None:
    assert Replication.for_cluster(brokers) == Replication(factor, min_insync)


def test_a_replication_factor_above_the_cluster_s_size_is_refused() -> None:
    with pytest.raises(ValueError, match="replication factor 3 needs 3 brokers; the cluster has 1"):
        Replication.for_cluster(1, factor=3)
    assert Replication.for_cluster(5, factor=5) == Replication(5, 2)


def test_a_cluster_creates_topics_with_its_copies_and_checks_the_in_sync_minimum() -> None:
    three = Replication.for_cluster(3)
    (create,) = plan_topics([SPEC], {}, three)
    assert create.details == (f"{SPEC.partitions} partitions, 3 replicas",)
    assert three.topic_config(SPEC)["min.insync.replicas"] == "2"
    replicated = ObservedTopic(SPEC.name, SPEC.partitions, three.topic_config(SPEC), replicas=3)
    (change,) = plan_topics([SPEC], {SPEC.name: replicated}, three)
    assert change.action == "in_sync"
    unset = ObservedTopic(SPEC.name, SPEC.partitions, SPEC.broker_config(), replicas=3)
    (alter,) = plan_topics([SPEC], {SPEC.name: unset}, three)
    assert alter.action == "alter_config"
    assert "min.insync.replicas: broker has None, catalogue wants '2'" in alter.details


def test_a_topic_with_fewer_copies_than_the_cluster_wants_is_drift() -> None:
    three = Replication.for_cluster(3)
    single = ObservedTopic(SPEC.name, SPEC.partitions, three.topic_config(SPEC), replicas=1)
    (drift,) = plan_topics([SPEC], {SPEC.name: single}, three)
    assert drift.action == "drift"
    assert "keeps 1 replicas, the cluster's size wants 3" in drift.details[0]

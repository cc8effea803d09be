"""Compare the topic catalogue with what a broker has: a pure plan, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from meterstream_contracts.topics import TopicSpec

TopicAction = Literal["create", "in_sync", "alter_config", "add_partitions", "drift"]

MIN_INSYNC = "min.insync.replicas"


@dataclass(frozen=True, slots=True)
class Replication:
    """How many copies of each partition a topic keeps, and how many of them must have a
    write before the broker acknowledges it (producers send with acks=all)."""

    factor: int
    min_insync: int

    @classmethod
    def for_cluster(cls, brokers: int, factor: int | None = None) -> Replication:
        """The one rule: three copies when the cluster has three brokers or more (one per
        broker below that), and two of them in sync for a write, so one broker may be down
        while producers go on and an acknowledged write survives the loss of any one.
        `factor` overrides the number of copies (MS_KAFKA_REPLICATION_FACTOR)."""
        if brokers < 1:
            raise ValueError("the cluster has no broker")
        copies = factor if factor is not None else min(3, brokers)
        if copies > brokers:
            raise ValueError(
                f"replication factor {copies} needs {copies} brokers; the cluster has {brokers}"
            )
        return cls(copies, 2 if copies >= 3 else 1)

    def topic_config(self, spec: TopicSpec) -> dict[str, str]:
        """The spec's broker config with the in-sync minimum of this replication."""
        return {**spec.broker_config(), MIN_INSYNC: str(self.min_insync)}


SINGLE_BROKER = Replication(1, 1)


@dataclass(frozen=True, slots=True)
class ObservedTopic:
    name: str
    partitions: int
    config: Mapping[str, str]
    replicas: int = 1
    """The replication factor of its partitions (the smallest, should they differ)."""


@dataclass(frozen=True, slots=True)
class TopicChange:
    """What apply does to one topic, and why, in words a person can read."""

    spec: TopicSpec
    action: TopicAction
    details: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_drift(self) -> bool:
        return self.action not in ("create", "in_sync")


def plan_topic(
    spec: TopicSpec, observed: ObservedTopic | None, replication: Replication = SINGLE_BROKER
) -> list[TopicChange]:
    """The changes that bring one broker topic in line with its spec.

    Growing partitions re-maps keys to partitions, so it is its own action that
    apply takes only when asked; fewer partitions in the spec cannot be applied, and
    neither can more copies of an existing topic (a reassignment, left to the operator).
    """
    if observed is None:
        detail = f"{spec.partitions} partitions, {replication.factor} replicas"
        return [TopicChange(spec, "create", (detail,))]
    changes: list[TopicChange] = []
    wanted = replication.topic_config(spec)
    differing = tuple(
        f"{key}: broker has {observed.config.get(key)!r}, catalogue wants {value!r}"
        for key, value in sorted(wanted.items())
        if observed.config.get(key) != value
    )
    if differing:
        changes.append(TopicChange(spec, "alter_config", differing))
    if observed.partitions < spec.partitions:
        detail = f"broker has {observed.partitions} partitions, catalogue wants {spec.partitions}"
        changes.append(TopicChange(spec, "add_partitions", (detail,)))
    elif observed.partitions > spec.partitions:
        detail = (
            f"broker has {observed.partitions} partitions, more than the catalogue's"
            f" {spec.partitions}; Kafka cannot remove partitions"
        )
        changes.append(TopicChange(spec, "drift", (detail,)))
    if observed.replicas < replication.factor:
        detail = (
            f"broker keeps {observed.replicas} replicas, the cluster's size wants"
            f" {replication.factor}; reassign its partitions (kafka-reassign-partitions)"
        )
        changes.append(TopicChange(spec, "drift", (detail,)))
    return changes or [TopicChange(spec, "in_sync")]


def plan_topics(
    specs: Iterable[TopicSpec],
    observed: Mapping[str, ObservedTopic],
    replication: Replication = SINGLE_BROKER,
) -> list[TopicChange]:
    changes: list[TopicChange] = []
    for spec in specs:
        changes.extend(plan_topic(spec, observed.get(spec.name), replication))
    return changes

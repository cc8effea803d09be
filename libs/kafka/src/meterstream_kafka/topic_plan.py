"""Compare the topic catalogue with what a broker has: a pure plan, no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from meterstream_contracts.topics import TopicSpec

TopicAction = Literal["create", "in_sync", "alter_config", "add_partitions", "drift"]


@dataclass(frozen=True, slots=True)
class ObservedTopic:
    name: str
    partitions: int
    config: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class TopicChange:
    """What apply does to one topic, and why, in words a person can read."""

    spec: TopicSpec
    action: TopicAction
    details: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_drift(self) -> bool:
        return self.action not in ("create", "in_sync")


def plan_topic(spec: TopicSpec, observed: ObservedTopic | None) -> list[TopicChange]:
    """The changes that bring one broker topic in line with its spec.

    Growing partitions re-maps keys to partitions, so it is its own action that
    apply takes only when asked; fewer partitions in the spec cannot be applied.
    """
    if observed is None:
        return [TopicChange(spec, "create", (f"{spec.partitions} partitions",))]
    changes: list[TopicChange] = []
    wanted = spec.broker_config()
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
    return changes or [TopicChange(spec, "in_sync")]


def plan_topics(
    specs: Iterable[TopicSpec], observed: Mapping[str, ObservedTopic]
) -> list[TopicChange]:
    changes: list[TopicChange] = []
    for spec in specs:
        changes.extend(plan_topic(spec, observed.get(spec.name)))
    return changes

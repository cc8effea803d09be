"""Rules applied to derived records, and the dispatcher's decision. Pure (state via callables)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from meterstream_alerting.evaluate import (
    GroupState,
    Observation,
    Transition,
    absent,
    evaluate,
    observe,
)
from meterstream_alerting.rules import AlertRule, RuleFile, Silence
from meterstream_contracts.derived import AlertEvent


def event_time(rule: AlertRule, record: Mapping[str, Any], appended_s: float) -> float:
    """When the record's value happened, so that a for-duration is time the condition held.

    A window's value covers its events so far: the window's end, or its
    emission if earlier (an open window, emitted while its calls arrive).
    Totals: `through`. Otherwise the append time.
    """
    if "window_start" in record and "window_seconds" in record:
        start = datetime.fromisoformat(str(record["window_start"])).timestamp()
        end = start + float(record["window_seconds"])
        emitted = record.get("emitted_at")
        if emitted:
            return min(end, datetime.fromisoformat(str(emitted)).timestamp())
        return end
    if rule.source == "usage_totals" and record.get("through"):
        return datetime.fromisoformat(str(record["through"])).timestamp()
    return appended_s


def alert_event(rule: AlertRule, group: Mapping[str, str], transition: Transition) -> AlertEvent:
    return AlertEvent(
        time=datetime.fromtimestamp(transition.at, UTC),
        rule_id=rule.id,
        dedup_key=transition.dedup_key,
        state=transition.state,
        severity=rule.severity,
        project=group.get("project") or None,
        group={**group, **rule.labels},
        value=transition.value,
        threshold=rule.threshold if rule.condition != "absence" else rule.absent_for_s,
        summary=rule.description or rule.id,
        annotations=rule.annotations,
    )


@dataclass
class RuleEngine:
    """Every rule over the records of the derived streams.

    `apply` returns the alerts and the changed states (to write back); groups
    watched for absence are remembered so `silent_groups` can report them
    without any record arriving.
    """

    rules: RuleFile
    last_seen: dict[tuple[str, str], tuple[dict[str, str], float]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._index()

    def _index(self) -> None:
        self._by_topic: dict[str, list[AlertRule]] = {}
        for rule in self.rules.rules:
            self._by_topic.setdefault(rule.topic, []).append(rule)

    def set_rules(self, rules: Sequence[AlertRule]) -> None:
        """Evaluate these rules from now on (rules changed at run time). A kept rule keeps
        its groups' states; a removed rule's groups are no longer reported silent."""
        self.rules = self.rules.model_copy(update={"rules": list(rules)})
        self._index()

    @property
    def topics(self) -> list[str]:
        return sorted(self._by_topic)

    def reads(self, topic: str) -> bool:
        """Whether any rule in force reads this topic (its records need decoding)."""
        return topic in self._by_topic

    def apply(
        self,
        topic: str,
        records: Iterable[Mapping[str, Any]],
        appended_s: float,
        stored: Callable[[str], Mapping[str, Any] | None],
    ) -> tuple[list[AlertEvent], dict[str, GroupState]]:
        alerts: list[AlertEvent] = []
        changed: dict[str, GroupState] = {}
        for record in records:
            for rule in self._by_topic.get(topic, ()):
                observation = observe(rule, record, event_time(rule, record, appended_s))
                if observation is None:
                    continue
                key = f"{rule.id}|{observation.key}"
                state = changed.get(key)
                if state is None:
                    saved = stored(key)
                    state = GroupState() if saved is None else GroupState.from_state(saved)
                before = state.snapshot()
                transitions = evaluate(rule, state, observation)
                if rule.condition == "absence":
                    transitions = self._end_silence(rule, observation, transitions)
                for transition in transitions:
                    alerts.append(alert_event(rule, observation.group, transition))
                if state.snapshot() != before:
                    changed[key] = state
                if rule.condition == "absence":
                    self.last_seen[(rule.id, observation.key)] = (observation.group, state.last_at)
        return alerts, changed

    def _end_silence(
        self, rule: AlertRule, observation: Observation, transitions: list[Transition]
    ) -> list[Transition]:
        """A record from a group this process reported silent resolves exactly that report;
        without one in memory (a restart since), the state's own judgement stands."""
        prefix = f"{rule.id}|{observation.key}|"
        reported = [key for key in self.reported if key.startswith(prefix)]
        if not reported:
            return transitions
        for key in reported:
            self.reported.discard(key)
        return [Transition("resolved", key, observation.at, None) for key in sorted(reported)]

    def forget_groups(self) -> None:
        """A rebalance revoked the partitions: groups watched for absence are those whose
        states come back on recovery, or a worker would report silent the groups another
        worker now receives."""
        self.last_seen.clear()

    def recover(self, key: str, saved: Mapping[str, Any]) -> None:
        """A state read back after a restart: its group is watched for absence again (a
        rule not known yet may be a project's, read from the registry after the state)."""
        rule_id, _, group_key = key.partition("|")
        known = [r for r in self.rules.rules if r.id == rule_id]
        if not known or any(r.condition == "absence" for r in known):
            group = dict(part.split("=", 1) for part in group_key.split("/") if "=" in part)
            self.last_seen[(rule_id, group_key)] = (group, float(saved.get("last_at", 0.0)))

    def silent_groups(self, now: float) -> list[AlertEvent]:
        """Absence alerts for groups silent long enough, each reported once per silence."""
        rules = {rule.id: rule for rule in self.rules.rules if rule.condition == "absence"}
        alerts = []
        for (rule_id, group_key), (group, last_at) in list(self.last_seen.items()):
            rule = rules.get(rule_id)
            if rule is None:
                continue
            transition = absent(rule, GroupState(last_at=last_at), group_key, now)
            if transition is not None and transition.dedup_key not in self.reported:
                self.reported.add(transition.dedup_key)
                alerts.append(alert_event(rule, group, transition))
        return alerts


Decision = Literal["notify", "already_sent", "never_announced", "silenced"]


def dispatch_decision(
    alert: AlertEvent, sent: Callable[[str], Any], silences: Iterable[Silence]
) -> Decision:
    """Whether the dispatcher notifies this alert event (each (dedup key, state) once)."""
    if sent(f"{alert.dedup_key}:{alert.state}"):
        return "already_sent"
    if alert.state == "resolved" and not sent(f"{alert.dedup_key}:firing"):
        return "never_announced"
    if any(s.covers(alert.rule_id, alert.group, alert.time) for s in silences):
        return "silenced"
    return "notify"

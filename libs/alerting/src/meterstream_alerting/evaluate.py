"""Judging one rule for one group, observation by observation. Pure; the state is explicit.

Transitions carry a dedup key built from the rule, the group and the event time
the condition started to hold, so evaluating the same records again (after a
restart or a consumer reset) yields the same keys, and the dispatcher sends
each (key, state) once.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from meterstream_alerting.rules import AlertRule

COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}

GROUP_FIELDS: dict[str, tuple[str, ...]] = {
    "inference_windows": ("project", "model"),
    "usage_totals": ("project", "model"),
    "training_history": ("project", "run_id"),
    "feedback_rollups": ("project", "key"),
}


@dataclass(frozen=True, slots=True)
class Observation:
    group: dict[str, str]
    at: float
    """Event time (epoch seconds) the value describes."""
    value: float | None

    @property
    def key(self) -> str:
        return "/".join(f"{k}={v}" for k, v in sorted(self.group.items()))


@dataclass(frozen=True, slots=True)
class Transition:
    state: Literal["firing", "resolved"]
    dedup_key: str
    at: float
    value: float | None


@dataclass
class GroupState:
    pending_since: float | None = None
    firing_key: str | None = None
    last_at: float = 0.0
    current: list[float] | None = None
    """[event time, value] of the latest observation."""
    previous: list[float] | None = None
    """[event time, value] of the latest observation at an earlier event time."""
    baseline: list[float] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {
            "pending_since": self.pending_since,
            "firing_key": self.firing_key,
            "last_at": self.last_at,
            "current": self.current,
            "previous": self.previous,
            "baseline": list(self.baseline),
        }

    def snapshot(self) -> tuple[object, ...]:
        """Cheap to compare: changes whenever the stored state would."""
        current = None if self.current is None else tuple(self.current)
        previous = None if self.previous is None else tuple(self.previous)
        return (self.pending_since, self.firing_key, self.last_at, current, previous)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> GroupState:
        return cls(**state)


def _ratio(record: Mapping[str, Any], numerator: float, min_count: int) -> float | None:
    count = int(record.get("count") or 0)
    return numerator / count if count >= max(min_count, 1) else None


def _metric(rule: AlertRule, record: Mapping[str, Any]) -> float | None:
    count = int(record.get("count") or 0)
    if rule.source in ("inference_windows", "feedback_rollups") and count < rule.min_count:
        return None
    derived: dict[str, Callable[[], float | None]] = {
        "error_rate": lambda: _ratio(record, sum(dict(record.get("errors") or {}).values()), 1),
        "mean": lambda: _ratio(record, float(record.get("total") or 0.0), rule.min_count),
        "true_rate": lambda: _ratio(record, int(record.get("true_count") or 0), rule.min_count),
    }
    if rule.source == "training_history":
        value = dict(record.get("metrics") or {}).get(rule.metric)
    elif rule.metric in derived:
        return derived[rule.metric]()
    else:
        value = record.get(rule.metric)
    return float(value) if isinstance(value, int | float) else None


def observe(rule: AlertRule, record: Mapping[str, Any], at: float) -> Observation | None:
    """The rule's view of one derived record, or None when the record is not for it."""
    if rule.window_seconds is not None and record.get("window_seconds") not in (
        None,
        rule.window_seconds,
    ):
        return None
    group = {name: str(record.get(name) or "") for name in GROUP_FIELDS[rule.source]}
    if any(group.get(k, str(record.get(k, ""))) != v for k, v in rule.where.items()):
        return None
    return Observation(group, at, None if rule.condition == "absence" else _metric(rule, record))


def _holds(rule: AlertRule, state: GroupState, value: float) -> bool:
    if rule.condition == "threshold":
        return COMPARE[rule.comparator](value, rule.threshold)
    if rule.condition == "rate_of_change":
        if state.previous is None or state.current is None:
            return False
        seconds = state.current[0] - state.previous[0]
        rate = (value - state.previous[1]) / seconds * rule.per_seconds if seconds > 0 else 0.0
        return COMPARE[rule.comparator](rate, rule.threshold)
    if rule.condition == "drift":
        if len(state.baseline) < max(2, rule.baseline_points // 2):
            return False
        mean = sum(state.baseline) / len(state.baseline)
        return mean != 0 and abs(value - mean) / abs(mean) > rule.threshold
    return False


def _advance(rule: AlertRule, state: GroupState, at: float, value: float) -> None:
    """Move the value history on: a new event time pushes the last one into the baseline."""
    if state.current is not None and at > state.current[0]:
        state.previous = list(state.current)
        state.baseline = [*state.baseline, state.current[1]][-rule.baseline_points :]
    if state.current is None or at >= state.current[0]:
        state.current = [at, value]


def evaluate(rule: AlertRule, state: GroupState, observation: Observation) -> list[Transition]:
    """Fold one observation into the group's state; the transitions it causes."""
    transitions: list[Transition] = []
    if rule.condition == "absence":
        if state.last_at > 0 and observation.at - state.last_at >= rule.absent_for_s:
            # the silence `absent` reported ends here, under the key it reported
            key = f"{rule.id}|{observation.key}|{state.last_at:.3f}"
            transitions.append(Transition("resolved", key, observation.at, None))
        state.last_at = max(state.last_at, observation.at)
        return transitions
    value = observation.value
    state.last_at = max(state.last_at, observation.at)
    if value is None:
        return transitions
    if observation.at < (state.current[0] if state.current else 0.0):
        return transitions  # an older window corrected: judged when it was current
    _advance(rule, state, observation.at, value)
    if _holds(rule, state, value):
        if state.pending_since is None:
            state.pending_since = observation.at
        held = observation.at - state.pending_since
        if state.firing_key is None and held >= rule.for_s:
            state.firing_key = f"{rule.id}|{observation.key}|{state.pending_since:.3f}"
            transitions.append(Transition("firing", state.firing_key, observation.at, value))
    else:
        state.pending_since = None
        if state.firing_key is not None:
            transitions.append(Transition("resolved", state.firing_key, observation.at, value))
            state.firing_key = None
    return transitions


def absent(rule: AlertRule, state: GroupState, group_key: str, now: float) -> Transition | None:
    """An absence alert when the group has been silent `absent_for_s` (not stored: the
    dispatcher de-duplicates it, and the group's next record resolves it)."""
    if rule.condition != "absence" or state.last_at <= 0:
        return None
    if now - state.last_at < rule.absent_for_s:
        return None
    key = f"{rule.id}|{group_key}|{state.last_at:.3f}"
    return Transition("firing", key, now, None)

"""Feedback partials: metric values, grader scores and preferences per key and window. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import msgspec

from meterstream_contracts import GraderScore, MetricValue, Preference
from meterstream_contracts.derived import FeedbackRollup
from meterstream_contracts.events import ScoringType
from meterstream_derivations.trusted import AwareTime, decode_trusted

FeedbackEvent = MetricValue | GraderScore | Preference
KeyInfo = tuple[ScoringType, Literal["scalar", "bool"]]
"""(scoring, value_kind) of a registered key."""


@dataclass
class _Aggregate:
    count: int = 0
    total: float = 0.0
    low: float | None = None
    high: float | None = None
    true_count: int = 0

    def add(self, value: float | None, true: bool) -> None:
        self.count += 1
        self.true_count += int(true)
        if value is not None:
            self.total += value
            self.low = value if self.low is None else min(self.low, value)
            self.high = value if self.high is None else max(self.high, value)


Source = Literal["metric_value", "grader_score", "preference"]


class Feedback(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The fields of a feedback event that partials use: from a model, or decoded straight
    from a trusted envelope's JSON (its other fields skipped, no model per event)."""

    kind: Source
    project: str
    key: str
    time: AwareTime
    value: float | None = None
    category: Literal["user", "custom"] = "user"
    passed: bool | None = None

    @classmethod
    def of(cls, event: FeedbackEvent) -> Feedback:
        if isinstance(event, MetricValue):
            return cls(kind=event.kind, project=event.project, key=event.key, time=event.time,
                       value=event.value, category=event.category)  # fmt: skip
        if isinstance(event, GraderScore):
            return cls(kind=event.kind, project=event.project, key=event.key, time=event.time,
                       value=event.value, passed=event.passed)  # fmt: skip
        return cls(kind=event.kind, project=event.project, key=event.key, time=event.time)

    def observation(self) -> tuple[str, float | None, bool]:
        """(category, value, counts as true)."""
        if self.kind == "metric_value":
            return self.category, self.value, self.value == 1.0
        if self.kind == "grader_score":
            return "grader", self.value, bool(self.passed)
        return "user", None, False


_FEEDBACK = msgspec.json.Decoder(list[Feedback])
_ONE_FEEDBACK = msgspec.json.Decoder(Feedback)


def trusted_feedback(value: bytes, kind: Source) -> list[Feedback] | None:
    """The feedback of an envelope a validating producer wrote (it carried ms-validated),
    or None when it does not hold what the mark promised (events of `kind`, each with the
    fields partials use): the contract reads it then."""
    events = decode_trusted(value, _FEEDBACK, _ONE_FEEDBACK)
    if events is None or any(event.kind != kind or (kind != "preference" and event.value is None)
           for event in events):  # fmt: skip
        return None
    return events


def build_feedback_partials(
    events: Iterable[Feedback],
    *,
    windows: tuple[int, ...],
    partial_id: str,
    key_info: Callable[[str, str], KeyInfo | None],
) -> list[FeedbackRollup]:
    """Count, sum, min, max and true count per (project, key, source, window).

    `true_count` counts values equal to 1 (true, for bool keys) and passed
    grader results; `key_info(project, key)` adds the key's scoring and kind.
    """
    groups: dict[tuple[str, str, Source, str, int, int], _Aggregate] = {}
    for event in events:
        category, value, true = event.observation()
        epoch = int(event.time.timestamp())
        for length in windows:
            key = (
                event.project,
                event.key,
                event.kind,
                category,
                length,
                epoch - epoch % length,
            )
            aggregate = groups.get(key)
            if aggregate is None:
                aggregate = groups[key] = _Aggregate()
            aggregate.add(value, true)
    partials = []
    for (project, name, source, category, length, start), aggregate in sorted(groups.items()):
        info = key_info(project, name)
        partials.append(
            FeedbackRollup(
                project=project,
                key=name,
                source=source,
                category=category,
                window_start=datetime.fromtimestamp(start, UTC),
                window_seconds=length,
                partial_id=partial_id,
                count=aggregate.count,
                total=aggregate.total,
                min=aggregate.low,
                max=aggregate.high,
                true_count=aggregate.true_count,
                scoring=None if info is None else info[0],
                value_kind=None if info is None else info[1],
            )
        )
    return partials

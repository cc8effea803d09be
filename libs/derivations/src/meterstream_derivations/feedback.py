"""Feedback partials: metric values, grader scores and preferences per key and window. Pure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from meterstream_contracts import GraderScore, MetricValue, Preference
from meterstream_contracts.derived import FeedbackRollup
from meterstream_contracts.events import ScoringType

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


def _source(event: FeedbackEvent) -> Source:
    if isinstance(event, MetricValue):
        return "metric_value"
    if isinstance(event, GraderScore):
        return "grader_score"
    return "preference"


def _observation(event: FeedbackEvent) -> tuple[str, float | None, bool]:
    """(category, value, counts as true)."""
    if isinstance(event, MetricValue):
        return event.category, event.value, event.value == 1.0
    if isinstance(event, GraderScore):
        return "grader", event.value, bool(event.passed)
    return "user", None, False


def build_feedback_partials(
    events: Iterable[FeedbackEvent],
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
        category, value, true = _observation(event)
        epoch = int(event.time.timestamp())
        for length in windows:
            key = (
                event.project,
                event.key,
                _source(event),
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

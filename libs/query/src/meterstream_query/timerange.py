"""Time ranges, intervals, and which table answers: the caller never picks a resolution.

A series is read from the coarsest rollup whose bucket divides the interval
(1 day, 1 hour, 1 minute); intervals finer than a minute, or not a multiple
of one, read raw points, which is allowed for ranges up to `RAW_MAX_SPAN_S`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal

from meterstream_query.errors import InvalidQuery

Resolution = Literal["raw", "1m", "1h", "1d"]

ROLLUP_SECONDS: Final[dict[Resolution, int]] = {"1d": 86_400, "1h": 3_600, "1m": 60}
ROLLUP_TABLES: Final[dict[Resolution, str]] = {
    "1d": "metric_rollups_1d",
    "1h": "metric_rollups_1h",
    "1m": "metric_rollups_1m",
}
RAW_MAX_SPAN_S: Final = 7 * 86_400
"""Raw points (sub-minute intervals, label groups) are read for ranges up to a week."""
MAX_POINTS: Final = 5_000
"""Buckets per series at most; a finer interval over a long range is refused."""
TARGET_POINTS: Final = 300
NICE_INTERVALS_S: Final = (
    1, 5, 10, 30, 60, 300, 600, 1_800, 3_600, 3 * 3_600, 6 * 3_600, 12 * 3_600, 86_400, 7 * 86_400,
)  # fmt: skip

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(text: str, *, field: str) -> int:
    """'90s', '15m', '6h', '30d', '2w' → seconds."""
    match = _DURATION.match(text)
    if match is None:
        raise InvalidQuery(field, f"{text!r} is not a duration like 90s, 15m, 6h, 30d or 2w")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise InvalidQuery(field, "must be longer than 0 s")
    return seconds


@dataclass(frozen=True, slots=True)
class TimeRange:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise InvalidQuery("start", "times must carry a time zone")
        if self.end <= self.start:
            raise InvalidQuery("end", "must be after start")

    @property
    def bounds(self) -> dict[str, str]:
        """{start, end} as query parameters (UTC text a DateTime64 parameter parses)."""
        return {
            "start": self.start.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
            "end": self.end.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f"),
        }

    @property
    def span_s(self) -> float:
        return (self.end - self.start).total_seconds()

    @classmethod
    def last(cls, duration: str, *, now: datetime | None = None) -> TimeRange:
        end = now or datetime.now(UTC)
        return cls(end - timedelta(seconds=parse_duration(duration, field="last")), end)

    @classmethod
    def of(
        cls,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        last: str | None = None,
        now: datetime | None = None,
        default_last: str = "1h",
    ) -> TimeRange:
        """From explicit bounds, or `last` (a duration back from `end` or now); without
        either, `default_last`."""
        end = end or now or datetime.now(UTC)
        if start is None:
            return cls.last(last or default_last, now=end)
        if last is not None:
            raise InvalidQuery("last", "give either start or last, not both")
        return cls(start, end)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """The interval of the buckets and the table family that answers."""

    interval_s: int
    resolution: Resolution


def choose_interval(span_s: float, requested_s: int | None) -> int:
    if requested_s is not None:
        if requested_s < 1:
            raise InvalidQuery("interval", "must be at least 1 s")
        if span_s / requested_s > MAX_POINTS:
            raise InvalidQuery(
                "interval",
                f"{requested_s} s gives {int(span_s / requested_s)} buckets over this range;"
                f" the limit is {MAX_POINTS}",
            )
        return requested_s
    for step in NICE_INTERVALS_S:
        if span_s / step <= TARGET_POINTS:
            return step
    return NICE_INTERVALS_S[-1]


def plan_read(span_s: float, *, interval_s: int | None, needs_raw: bool = False) -> ReadPlan:
    """Pick the interval (when not given) and the coarsest table that can answer exactly."""
    interval = choose_interval(span_s, interval_s)
    if not needs_raw:
        for resolution, seconds in ROLLUP_SECONDS.items():
            if interval % seconds == 0:
                return ReadPlan(interval, resolution)
    if span_s > RAW_MAX_SPAN_S:
        reason = "grouping by a label" if needs_raw else f"an interval of {interval} s"
        raise InvalidQuery(
            "interval" if not needs_raw else "group_by",
            f"{reason} reads raw points, allowed for ranges up to"
            f" {RAW_MAX_SPAN_S // 86_400} days; use a multiple of 60 s or a shorter range",
        )
    return ReadPlan(interval, "raw")

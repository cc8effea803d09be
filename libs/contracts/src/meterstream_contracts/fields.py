"""Constrained field types shared by every event: the limits live here, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from random import getrandbits
from typing import Annotated, Final
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

MAX_NAME_CHARS: Final = 256
MAX_PROJECT_CHARS: Final = 64
MAX_ID_CHARS: Final = 128
MAX_LABELS: Final = 32
MAX_LABEL_KEY_CHARS: Final = 64
MAX_LABEL_VALUE_CHARS: Final = 256
MAX_TEXT_CHARS: Final = 4096
MAX_ERROR_TYPE_CHARS: Final = 128
MAX_TOKENS: Final = 1 << 40

ProjectName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=MAX_PROJECT_CHARS, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
    ),
]
"""A tenant: letters, digits, `_ . -`, starting with a letter or digit."""

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_NAME_CHARS, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
"""A model, metric key, grader or instrument name: printable, no control characters."""

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[A-Za-z0-9_.:\-]+$"),
]
"""An id chosen by a producer (completion id, run id): no spaces, no slashes."""

Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS)]


EARLIEST_TIME: Final = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Every timestamp the store keeps lies in [EARLIEST_TIME, LATEST_TIME): its raw tables'
retention rule (`toDateTime(time) + INTERVAL n DAY`) overflows outside 1970-2106, and
ClickHouse then drops the row unseen; so an event outside is refused where it enters."""
DATETIME_END: Final = datetime(2106, 2, 7, tzinfo=UTC)
"""Where ClickHouse's DateTime (seconds in a UInt32) ends: a raw table's retention rule
`toDateTime(time) + INTERVAL n DAY` past it wraps to 1970, and a background merge then
deletes the row as expired."""
MAX_RETENTION_DAYS: Final = (DATETIME_END - LATEST_TIME).days - 1
"""The longest retention under which every accepted time keeps a retention end inside
DateTime's range (about six years)."""
DEFAULT_RETENTION_DAYS: Final = 90
"""Days the raw tables keep an event after its time (the warehouse's `raw_retention_days`):
older events are refused at the edge and dead-lettered by the sink, never dropped unseen."""


@dataclass(frozen=True, slots=True)
class RetentionWindow:
    """What the raw tables keep: events from `oldest` on (`days` before now)."""

    oldest: datetime
    days: int

    @classmethod
    def ending_now(cls, days: int) -> RetentionWindow:
        return cls(datetime.now(UTC) - timedelta(days=days), days)

    def refusal(self, time: datetime) -> str | None:
        """Why an event at `time` cannot be stored, or None when it can."""
        if time >= self.oldest:
            return None
        return (
            f"time: {time.isoformat()} is older than the raw tables keep ({self.days} days:"
            f" from {self.oldest:%Y-%m-%dT%H:%M:%SZ}); ClickHouse would drop it on insert"
        )


def _as_utc(value: datetime) -> datetime:
    """Naive timestamps are taken as UTC; aware ones are converted to UTC; the result must
    lie in the range the store can keep.

    Called for every timestamp the contract reads: a zero offset (pydantic's own
    tzinfo for "Z") is rebuilt with the constructor, which costs a third of
    `replace(tzinfo=UTC)` here.
    """
    zone = value.tzinfo
    if zone is UTC:
        utc = value
    elif zone is None or not zone.utcoffset(value):
        v = value
        utc = datetime(v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond, UTC)
    else:
        utc = value.astimezone(UTC)
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise ValueError(
            f"must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d} UTC"
            f" (what the store can keep), got {utc.isoformat()}"
        )
    return utc


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def utc_now() -> datetime:
    return datetime.now(UTC)


_VERSION_4 = (0x4 << 76) | (0x2 << 62)
_VERSION_MASK = ~((0xF << 76) | (0x3 << 62)) & ((1 << 128) - 1)


def new_uuid() -> UUID:
    """A random (version 4) UUID without a syscall per id.

    `random` is reseeded in every forked child, so processes never share a
    sequence; ids need to be unique, not secret.
    """
    return UUID(int=(getrandbits(128) & _VERSION_MASK) | _VERSION_4)


LabelKey = Annotated[str, StringConstraints(min_length=1, max_length=MAX_LABEL_KEY_CHARS)]
LabelValue = Annotated[str, StringConstraints(max_length=MAX_LABEL_VALUE_CHARS)]

Labels = Annotated[dict[LabelKey, LabelValue], Field(max_length=MAX_LABELS)]
"""Free-form string attributes, capped in count and size."""

"""Errors of the SDK; every one derives from `MeterstreamError`.

Delivery problems never raise into the caller's request path: they are
counted and reported to the `on_delivery_error` callback. What does raise is
a mistake in the call itself, named precisely.
"""

from __future__ import annotations

from datetime import UTC, datetime

from meterstream_contracts.fields import EARLIEST_TIME, LATEST_TIME


class MeterstreamError(Exception):
    """Root of the errors raised by meterstream_sdk."""


class InvalidValue(MeterstreamError, ValueError):
    """An argument breaks the event contract; the message names the field and the limit."""


class UnknownKey(MeterstreamError, KeyError):
    """A metric was logged against a key that is not registered for the project."""

    def __str__(self) -> str:
        return str(self.args[0])


class WrongKind(MeterstreamError, TypeError):
    """A value does not match its key's kind (a number for a bool key, or the reverse)."""


class ProtectedKey(MeterstreamError, PermissionError):
    """System and grader keys cannot be registered, edited or deleted by users."""


class BufferFull(MeterstreamError):
    """The bounded buffer is full and the overflow policy is `raise` (or `block` timed out)."""


def check_time(field: str, value: datetime) -> None:
    """A timestamp must lie in the range the store keeps (naive ones are taken as UTC)."""
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not EARLIEST_TIME <= utc < LATEST_TIME:
        raise InvalidValue(
            f"{field} must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d}"
            f" UTC (what the store can keep), got {utc.isoformat()}"
        )

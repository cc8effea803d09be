"""Errors of the SDK; every one derives from `MeterstreamError`.

Delivery problems never raise into the caller's request path: they are
counted and reported to the `on_delivery_error` callback. What does raise is
a mistake in the call itself, named precisely.
"""

from __future__ import annotations


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

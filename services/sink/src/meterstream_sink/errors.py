"""Errors of the sink; every one derives from `SinkError`."""

from __future__ import annotations


class SinkError(Exception):
    """Root of the errors raised by meterstream_sink."""


class DeadLetterLimitExceeded(SinkError):
    """Too many invalid events: stop loudly instead of dead-lettering a broken producer's output.

    The batch that tripped the limit is neither stored nor committed, so nothing
    is lost: fix the producer (or raise the limit) and restart.
    """

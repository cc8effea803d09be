"""The dead-letter limit: a run of invalid events, or too high a share in one batch. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from meterstream_sink.errors import DeadLetterLimitExceeded


@dataclass(frozen=True, slots=True)
class DeadLetterLimits:
    max_consecutive: int
    max_ratio: float
    ratio_min_events: int


class DeadLetterGuard:
    """Counts invalid events in stream order; raises once a limit is crossed.

    The consecutive count survives across batches, so a burst split over two
    batches still trips it.
    """

    def __init__(self, limits: DeadLetterLimits) -> None:
        self._limits = limits
        self._consecutive = 0
        self._batch_valid = 0
        self._batch_invalid = 0

    def valid(self, count: int = 1) -> None:
        if count:
            self._consecutive = 0
            self._batch_valid += count

    def invalid(self, *, where: str) -> None:
        self._consecutive += 1
        self._batch_invalid += 1
        if self._consecutive > self._limits.max_consecutive:
            raise DeadLetterLimitExceeded(
                f"{self._consecutive} consecutive invalid events (limit"
                f" {self._limits.max_consecutive}, MS_SINK_MAX_CONSECUTIVE_DEAD_LETTERS),"
                f" the last at {where}; nothing of this batch was stored or committed"
            )

    def end_batch(self) -> None:
        """Check the share of invalid events in the batch just processed, then reset it."""
        total = self._batch_valid + self._batch_invalid
        invalid = self._batch_invalid
        self._batch_valid = self._batch_invalid = 0
        if total >= self._limits.ratio_min_events and invalid / total > self._limits.max_ratio:
            raise DeadLetterLimitExceeded(
                f"{invalid} of {total} events in one batch were invalid, more than"
                f" {self._limits.max_ratio:.0%} (MS_SINK_MAX_DEAD_LETTER_RATIO);"
                " nothing of this batch was stored or committed"
            )

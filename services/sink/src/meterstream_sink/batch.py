"""Accumulate consumed messages into a batch bounded by rows, bytes and time. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ConsumedMessage:
    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    value: bytes
    validated: bool = False
    """The producer validated every event (the ms-validated header)."""
    rows: int = field(init=False)
    """Lines (events) in the envelope, counted once, here."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "rows", self.value.count(b"\n") + 1)


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_rows: int
    max_bytes: int
    max_seconds: float


@dataclass(slots=True)
class Batch:
    """Messages in consumption order, and the offsets that committing them means."""

    messages: list[ConsumedMessage] = field(default_factory=list)
    rows_estimate: int = 0
    size_bytes: int = 0
    opened_at: float | None = None

    def next_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) → the offset to commit: one past the last message held."""
        offsets: dict[tuple[str, int], int] = {}
        for message in self.messages:
            key = (message.topic, message.partition)
            offsets[key] = max(offsets.get(key, 0), message.offset + 1)
        return offsets


class BatchBuilder:
    """Adds messages until a limit is reached; `take()` hands the batch over."""

    def __init__(self, limits: BatchLimits) -> None:
        self._limits = limits
        self._batch = Batch()

    def add(self, message: ConsumedMessage, *, now: float) -> None:
        batch = self._batch
        if batch.opened_at is None:
            batch.opened_at = now
        batch.messages.append(message)
        batch.rows_estimate += message.rows
        batch.size_bytes += len(message.value)

    def is_empty(self) -> bool:
        return not self._batch.messages

    def is_full(self) -> bool:
        batch = self._batch
        return (
            batch.rows_estimate >= self._limits.max_rows
            or batch.size_bytes >= self._limits.max_bytes
        )

    def seconds_left(self, *, now: float) -> float:
        """Time until the batch must be flushed; the full limit when it is empty."""
        if self._batch.opened_at is None:
            return self._limits.max_seconds
        return max(0.0, self._batch.opened_at + self._limits.max_seconds - now)

    def is_due(self, *, now: float) -> bool:
        return not self.is_empty() and (self.is_full() or self.seconds_left(now=now) <= 0)

    def take(self) -> Batch:
        batch, self._batch = self._batch, Batch()
        return batch


class PollSizer:
    """How many records the next poll may take so that it decompresses about `max_bytes`.

    aiokafka decompresses every record a poll returns, and a poll is bounded in records,
    not bytes: 10,000 envelopes of 500 events would be gigabytes. The count follows a
    running average of the record sizes seen; before any, it assumes 1 MiB records.
    """

    def __init__(self, *, max_bytes: int, max_records: int) -> None:
        self._max_bytes = max_bytes
        self._max_records = max_records
        self._average = 1024.0 * 1024.0

    def records(self) -> int:
        return max(1, min(self._max_records, int(self._max_bytes / self._average)))

    def observe(self, records: int, size_bytes: int) -> None:
        if records:
            self._average = 0.7 * self._average + 0.3 * max(1.0, size_bytes / records)

"""Turn a batch of envelopes into per-table JSONEachRow payloads and dead letters. Pure.

Envelopes marked validated go through as the bytes they are (the fast path);
others are decoded and validated event by event, and only their valid events
are re-encoded into the payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

import msgspec

from meterstream_contracts import (
    TOPICS,
    MessageOrigin,
    decode_envelope,
    encode_event,
    envelope_as_array,
)
from meterstream_contracts.derived import DeadLetter
from meterstream_contracts.fields import RetentionWindow
from meterstream_sink.batch import Batch, ConsumedMessage
from meterstream_sink.guard import DeadLetterGuard
from meterstream_warehouse import table_for_kind


@dataclass(slots=True)
class TableBatch:
    """What one insert into one table carries, and where it came from."""

    table: str
    kind: str
    parts: list[bytes] = field(default_factory=list)
    rows: int = 0
    messages: list[ConsumedMessage] = field(default_factory=list)
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    oldest_timestamp_ms: int | None = None

    def add(self, data: bytes) -> None:
        """Append NDJSON (one or more lines, no trailing newline); `parts` holds it unjoined."""
        self.parts.append(data)
        self.parts.append(b"\n")

    @property
    def payload(self) -> bytes:
        """Everything added, joined once (for the slow paths that read it line by line)."""
        if len(self.parts) != 1:
            self.parts = [b"".join(self.parts)]
        return self.parts[0] if self.parts else b""

    @property
    def dedup_token(self) -> str:
        return dedup_token(self.table, self.ranges)

    def note_message(self, message: ConsumedMessage) -> None:
        self.messages.append(message)
        key = (message.topic, message.partition)
        first, last = self.ranges.get(key, (message.offset, message.offset))
        self.ranges[key] = (min(first, message.offset), max(last, message.offset))
        if self.oldest_timestamp_ms is None or message.timestamp_ms < self.oldest_timestamp_ms:
            self.oldest_timestamp_ms = message.timestamp_ms


@dataclass(slots=True)
class ProcessedBatch:
    tables: dict[str, TableBatch] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables.values())


def dedup_token(table: str, ranges: dict[tuple[str, int], tuple[int, int]]) -> str:
    """Insert dedup token from the (topic, partition, offset range)s behind the rows.

    A retried batch with the same boundaries gets the same token, so ClickHouse
    drops the second insert.
    """
    spans = ",".join(
        f"{topic}:{partition}:{first}-{last}"
        for (topic, partition), (first, last) in sorted(ranges.items())
    )
    return f"{table}:" + hashlib.sha256(spans.encode()).hexdigest()[:32]


class _Timed(msgspec.Struct, gc=False):
    time: datetime | None = None


_TIMES = msgspec.json.Decoder(list[_Timed])


def holds_expired(value: bytes, oldest: datetime) -> bool:
    """Whether a validated envelope holds an event older than the raw tables keep: one
    decode of its times alone (~0.5 µs an event); True when unsure, and the careful path
    decides."""
    try:
        return any(
            t.time is not None and t.time < oldest for t in _TIMES.decode(envelope_as_array(value))
        )
    except (msgspec.DecodeError, TypeError):
        return True


def validate_into(
    target: TableBatch,
    message: ConsumedMessage,
    guard: DeadLetterGuard,
    retention: RetentionWindow | None = None,
) -> list[DeadLetter]:
    """Decode and validate one envelope; append valid events to `target`, return dead
    letters: events that break the contract, and (with `retention`) those too old for
    the raw tables, which would otherwise vanish on insert unseen."""
    origin = MessageOrigin(message.topic, message.partition, message.offset, message.timestamp_ms)
    decoded = decode_envelope(message.value, kind=target.kind, origin=origin)
    bad = {
        rejection.line: (rejection.reason, rejection.payload) for rejection in decoded.rejections
    }
    kept = []
    events = iter(decoded.events)
    for line in range(decoded.line_count):
        if line in bad:
            continue
        event = next(events)
        refusal = None if retention is None else retention.refusal(event.time)
        if refusal is not None:
            bad[line] = (refusal, encode_event(event))
        else:
            kept.append(event)
    letters: list[DeadLetter] = []
    for line in range(decoded.line_count):
        if line not in bad:
            guard.valid()
            continue
        guard.invalid(where=f"{message.topic}[{message.partition}]@{message.offset} line {line}")
        reason, payload = bad[line]
        letters.append(
            DeadLetter(
                source_topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                line=line,
                reason=reason,
                payload=payload,
            )
        )
    for event in kept:
        target.add(encode_event(event))
    target.rows += len(kept)
    return letters


def process_batch(
    batch: Batch, guard: DeadLetterGuard, retention: RetentionWindow | None = None
) -> ProcessedBatch:
    """Route every message to its table: validated envelopes as bytes, others event by
    event (and validated ones holding an event the raw tables would drop)."""
    result = ProcessedBatch(offsets=batch.next_offsets())
    for message in batch.messages:
        spec = TOPICS.by_name(message.topic)
        table = table_for_kind(spec.kind).name
        target = result.tables.get(table)
        if target is None:
            target = result.tables[table] = TableBatch(table, spec.kind)
        target.note_message(message)
        kept = retention if spec.role == "raw" else None
        if message.validated and (kept is None or not holds_expired(message.value, kept.oldest)):
            target.add(message.value)
            target.rows += message.rows
            guard.valid(message.rows)
        else:
            result.dead_letters.extend(validate_into(target, message, guard, kept))
    guard.end_batch()
    result.tables = {name: t for name, t in result.tables.items() if t.rows}
    return result


def revalidate(
    rejected: TableBatch,
    messages: Iterable[ConsumedMessage],
    guard: DeadLetterGuard,
    retention: RetentionWindow | None = None,
) -> tuple[TableBatch, list[DeadLetter]]:
    """The slow path for a batch ClickHouse refused: validate every event of every message."""
    again = TableBatch(rejected.table, rejected.kind, ranges=dict(rejected.ranges))
    letters: list[DeadLetter] = []
    for message in messages:
        kept = retention if TOPICS.by_name(message.topic).role == "raw" else None
        letters.extend(validate_into(again, message, guard, kept))
    guard.end_batch()
    return again, letters

"""Turn a batch of envelopes into per-table JSONEachRow payloads and dead letters. Pure.

Envelopes marked validated go through as the bytes they are (the fast path);
others are decoded and validated event by event, and only their valid events
are re-encoded into the payload.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from meterstream_contracts import TOPICS, MessageOrigin, decode_envelope, encode_event
from meterstream_contracts.derived import DeadLetter
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


def validate_into(
    target: TableBatch, message: ConsumedMessage, guard: DeadLetterGuard
) -> list[DeadLetter]:
    """Decode and validate one envelope; append valid events to `target`, return dead letters."""
    origin = MessageOrigin(message.topic, message.partition, message.offset, message.timestamp_ms)
    decoded = decode_envelope(message.value, kind=target.kind, origin=origin)
    bad = {rejection.line: rejection for rejection in decoded.rejections}
    letters: list[DeadLetter] = []
    for line in range(decoded.line_count):
        rejection = bad.get(line)
        if rejection is None:
            guard.valid()
            continue
        guard.invalid(where=f"{message.topic}[{message.partition}]@{message.offset} line {line}")
        letters.append(
            DeadLetter(
                source_topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                line=line,
                reason=rejection.reason,
                payload=rejection.payload,
            )
        )
    for event in decoded.events:
        target.add(encode_event(event))
    target.rows += len(decoded.events)
    return letters


def process_batch(batch: Batch, guard: DeadLetterGuard) -> ProcessedBatch:
    """Route every message to its table: validated envelopes as bytes, others event by event."""
    result = ProcessedBatch(offsets=batch.next_offsets())
    for message in batch.messages:
        kind = TOPICS.by_name(message.topic).kind
        table = table_for_kind(kind).name
        target = result.tables.get(table)
        if target is None:
            target = result.tables[table] = TableBatch(table, kind)
        target.note_message(message)
        if message.validated:
            target.add(message.value)
            target.rows += message.rows
            guard.valid(message.rows)
        else:
            result.dead_letters.extend(validate_into(target, message, guard))
    guard.end_batch()
    result.tables = {name: t for name, t in result.tables.items() if t.rows}
    return result


def revalidate(
    rejected: TableBatch, messages: Iterable[ConsumedMessage], guard: DeadLetterGuard
) -> tuple[TableBatch, list[DeadLetter]]:
    """The slow path for a batch ClickHouse refused: validate every event of every message."""
    again = TableBatch(rejected.table, rejected.kind, ranges=dict(rejected.ranges))
    letters: list[DeadLetter] = []
    for message in messages:
        letters.extend(validate_into(again, message, guard))
    guard.end_batch()
    return again, letters

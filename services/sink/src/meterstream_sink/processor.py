"""Turn a batch of envelopes into per-table JSONEachRow payloads and dead letters. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from meterstream_contracts import TOPICS, MessageOrigin, decode_envelope, encode_event
from meterstream_contracts.derived import DeadLetter
from meterstream_sink.batch import Batch
from meterstream_warehouse import table_for_kind


@dataclass(slots=True)
class TableRows:
    """Validated events for one table, as NDJSON, with the insert's dedup token."""

    table: str
    payload: bytearray = field(default_factory=bytearray)
    rows: int = 0
    dedup_token: str = ""
    oldest_event_ms: float | None = None


@dataclass(slots=True)
class ProcessedBatch:
    tables: dict[str, TableRows] = field(default_factory=dict)
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


def process_batch(batch: Batch) -> ProcessedBatch:
    """Validate every event; valid ones become rows of their kind's table, the rest dead letters."""
    result = ProcessedBatch(offsets=batch.next_offsets())
    ranges_by_table: dict[str, dict[tuple[str, int], tuple[int, int]]] = {}
    for message in batch.messages:
        spec = TOPICS.by_name(message.topic)
        table = table_for_kind(spec.kind).name
        origin = MessageOrigin(
            message.topic, message.partition, message.offset, message.timestamp_ms
        )
        decoded = decode_envelope(message.value, kind=spec.kind, origin=origin)
        for rejection in decoded.rejections:
            result.dead_letters.append(
                DeadLetter(
                    source_topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                    line=rejection.line,
                    reason=rejection.reason,
                    payload=rejection.payload,
                )
            )
        if not decoded.events:
            continue
        rows = result.tables.setdefault(table, TableRows(table))
        for event in decoded.events:
            rows.payload += encode_event(event)
            rows.payload += b"\n"
            event_ms = event.time.timestamp() * 1000
            if rows.oldest_event_ms is None or event_ms < rows.oldest_event_ms:
                rows.oldest_event_ms = event_ms
        rows.rows += len(decoded.events)
        span = ranges_by_table.setdefault(table, {})
        key = (message.topic, message.partition)
        first, last = span.get(key, (message.offset, message.offset))
        span[key] = (min(first, message.offset), max(last, message.offset))
    for table, rows in result.tables.items():
        rows.dedup_token = dedup_token(table, ranges_by_table[table])
    return result

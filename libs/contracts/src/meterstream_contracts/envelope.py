"""Envelopes: a Kafka message value holding 1..N events of one kind as NDJSON.

One plain JSON event (even pretty-printed) is a valid envelope, so plain Kafka
tools can feed the pipeline. Packing amortises the per-message cost of Kafka
and the stream workers over hundreds of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import orjson
from pydantic import BaseModel, TypeAdapter, ValidationError

from meterstream_contracts.derived import DERIVED_MODELS
from meterstream_contracts.errors import MixedEnvelope, describe_validation_error
from meterstream_contracts.events import EVENT_MODELS, Event
from meterstream_contracts.topics import TopicSpec

DEFAULT_MAX_EVENTS = 500
DEFAULT_MAX_BYTES = 900_000

VALIDATED_HEADER = "ms-validated"
"""Kafka header set by producers that validated every event against the contracts
(the SDK, the gateway, the workers). The sink stores such envelopes as they are;
envelopes without it are validated event by event."""
VALIDATED_HEADER_VALUE = b"1"


RECORD_MODELS: dict[str, type[BaseModel]] = {
    **EVENT_MODELS,
    **{model.model_fields["kind"].default: model for model in DERIVED_MODELS},
}
"""Every kind of record a topic can carry: producer events and derived records."""


@cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    return TypeAdapter(RECORD_MODELS[kind])


@cache
def _fills_origin(kind: str) -> bool:
    fields = RECORD_MODELS[kind].model_fields
    return "event_id" in fields and "time" in fields


def encode_event(event: BaseModel) -> bytes:
    """One event (or derived record) as compact JSON (no newline): the model's own
    serializer, called directly (a third cheaper than through an adapter)."""
    return event.__pydantic_serializer__.to_json(event)


def envelope_as_array(value: bytes) -> bytes:
    """The envelope's lines as one JSON array, for a decoder to read in one call (a third
    cheaper per event than a call per line). It is valid JSON only when every line is one
    whole document; when a decoder refuses it, read `split_envelope(value)` line by line."""
    return b"[" + value.replace(b"\n", b",") + b"]"


def split_envelope(value: bytes) -> list[bytes]:
    """The event lines of an envelope; blank lines are ignored.

    A value that is one JSON document spread over several lines is one event.
    """
    lines = [line for line in value.split(b"\n") if line.strip()]
    if len(lines) > 1 and not lines[0].rstrip().endswith(b"}"):
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return lines
        return [value]
    return lines


@dataclass(frozen=True, slots=True)
class Rejection:
    """An event line that failed its contract, with the reason naming the field."""

    line: int
    payload: bytes
    reason: str


@dataclass(slots=True)
class DecodedEnvelope:
    events: list[Event] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    line_count: int = 0


@dataclass(frozen=True, slots=True)
class MessageOrigin:
    """Where an envelope was read from; fills ids and times that a producer left out.

    An event without `event_id` gets one derived from its position in the log,
    and one without `time` gets the message timestamp, so replaying the same
    message yields the same event and cannot double count.
    """

    topic: str
    partition: int
    offset: int
    timestamp_ms: int

    def event_id(self, line: int) -> str:
        return str(
            uuid5(NAMESPACE_URL, f"kafka:{self.topic}:{self.partition}:{self.offset}:{line}")
        )

    def time(self) -> str:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat()


def decode_envelope(
    value: bytes, *, kind: str, origin: MessageOrigin | None = None
) -> DecodedEnvelope:
    """Validate every event of an envelope against the contract of `kind`.

    On a derived topic `events` holds that topic's derived records.

    Invalid events are returned as rejections; their valid neighbours are kept.
    """
    adapter = _adapter(kind)
    decoded = DecodedEnvelope()
    lines = split_envelope(value)
    decoded.line_count = len(lines)
    for index, line in enumerate(lines):
        try:
            parsed: Any = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            decoded.rejections.append(Rejection(index, line, f"<event>: not valid JSON ({error})"))
            continue
        if not isinstance(parsed, dict):
            reason = f"<event>: expected a JSON object, got {type(parsed).__name__}"
            decoded.rejections.append(Rejection(index, line, reason))
            continue
        if origin is not None and _fills_origin(kind):
            if "event_id" not in parsed:
                parsed["event_id"] = origin.event_id(index)
            if "time" not in parsed:
                parsed["time"] = origin.time()
        try:
            decoded.events.append(adapter.validate_python(parsed))
        except ValidationError as error:
            decoded.rejections.append(Rejection(index, line, describe_validation_error(error)))
    return decoded


def pack_envelope(events: Sequence[Event]) -> bytes:
    """Events of one kind as one NDJSON message value."""
    kinds = {event.kind for event in events}
    if len(kinds) != 1:
        raise MixedEnvelope(f"an envelope holds events of exactly one kind, got {sorted(kinds)}")
    return b"\n".join(encode_event(event) for event in events)


def pack_by_key(
    events: Iterable[Event],
    *,
    topic: TopicSpec,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[tuple[bytes, bytes]]:
    """Group events by message key and pack each group into envelopes within limits.

    Returns (key, value) pairs in first-seen key order; event order within a key is kept.
    """
    lines = ((topic.key_of(event), encode_event(event)) for event in events)
    return pack_lines_by_key(lines, max_events=max_events, max_bytes=max_bytes)


def pack_lines_by_key(
    lines: Iterable[tuple[bytes, bytes]],
    *,
    max_events: int = DEFAULT_MAX_EVENTS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[tuple[bytes, bytes]]:
    """`pack_by_key` for events already encoded: (message key, JSON line) pairs."""
    groups: dict[bytes, list[bytes]] = defaultdict(list)
    for key, line in lines:
        groups[key].append(line)
    messages: list[tuple[bytes, bytes]] = []
    for key, group in groups.items():
        messages.extend((key, value) for value in chunk_lines(group, max_events, max_bytes))
    return messages


def chunk_lines(lines: Sequence[bytes], max_events: int, max_bytes: int) -> list[bytes]:
    """Join encoded events into NDJSON values of at most max_events / max_bytes each."""
    values: list[bytes] = []
    for start in range(0, len(lines), max_events):
        chunk = lines[start : start + max_events]
        if sum(map(len, chunk)) + len(chunk) <= max_bytes:  # the common case, in C
            values.append(b"\n".join(chunk))
        else:
            values.extend(_chunk_by_bytes(chunk, max_bytes))
    return values


def _chunk_by_bytes(lines: Sequence[bytes], max_bytes: int) -> list[bytes]:
    values: list[bytes] = []
    current: list[bytes] = []
    size = 0
    for line in lines:
        if current and size + len(line) + 1 > max_bytes:
            values.append(b"\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        values.append(b"\n".join(current))
    return values

"""A bounded, thread-safe buffer that builds envelopes as events arrive.

Each (topic, key) has an open envelope: a bytearray the next event's JSON is
appended to, closed at `max_events` events or `max_envelope_bytes`. Appending
into a growing bytearray instead of keeping one bytes object per event keeps
the log call cheap (a retained small object per event costs several times the
encode on this kind of machine) and leaves the flusher nothing to pack.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from meterstream_sdk.config import OverflowPolicy
from meterstream_sdk.errors import BufferFull


@dataclass(slots=True, eq=False)
class Envelope:
    """Events of one topic and key, as NDJSON (every line ends in a newline)."""

    topic: str
    key: bytes
    data: bytearray = field(default_factory=bytearray)
    events: int = 0

    def value(self) -> bytes:
        """The Kafka message value: the NDJSON without its final newline."""
        return bytes(self.data[:-1])


@dataclass(slots=True)
class BufferCounters:
    accepted: int = 0
    dropped: int = 0
    dropped_bytes: int = 0
    refused: int = 0


class EventBuffer:
    """Holds envelopes until the flusher takes them; never more than `max_bytes`.

    Overflow: `drop_oldest` drops the oldest envelopes (counted per event),
    `raise` refuses the new event with BufferFull, `block` waits up to
    `block_timeout_s` for room and then refuses it.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        policy: OverflowPolicy,
        block_timeout_s: float,
        flush_bytes: int,
        max_events: int = 500,
        max_envelope_bytes: int = 900_000,
        on_flush_due: Callable[[], None] | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._policy = policy
        self._block_timeout_s = block_timeout_s
        self._flush_bytes = flush_bytes
        self._max_events = max_events
        self._max_envelope_bytes = max_envelope_bytes
        self._on_flush_due = on_flush_due
        self._envelopes: deque[Envelope] = deque()
        self._open: dict[tuple[str, bytes], Envelope] = {}
        self._bytes = 0
        self._events = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._flush_signalled = False
        self.counters = BufferCounters()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        """Events held."""
        return self._events

    def put(self, topic: str, key: bytes, line: bytes, *, may_block: bool = True) -> None:
        size = len(line) + 1
        signal = False
        with self._lock:
            if self._bytes + size > self._max_bytes:
                self._make_room(size, may_block=may_block)
            envelope = self._open.get((topic, key))
            if (
                envelope is None
                or envelope.events >= self._max_events
                or len(envelope.data) + size > self._max_envelope_bytes
            ):
                envelope = Envelope(topic, key)
                self._envelopes.append(envelope)
                self._open[(topic, key)] = envelope
            envelope.data += line
            envelope.data += b"\n"
            envelope.events += 1
            self._bytes += size
            self._events += 1
            self.counters.accepted += 1
            if self._bytes >= self._flush_bytes and not self._flush_signalled:
                self._flush_signalled = signal = True
        if signal and self._on_flush_due is not None:
            self._on_flush_due()

    def _make_room(self, size: int, *, may_block: bool) -> None:
        if size > self._max_bytes:
            self.counters.refused += 1
            raise BufferFull(f"an event of {size} bytes exceeds the buffer of {self._max_bytes}")
        if self._policy == "drop_oldest":
            while self._bytes + size > self._max_bytes and self._envelopes:
                dropped = self._envelopes.popleft()
                if self._open.get((dropped.topic, dropped.key)) is dropped:
                    del self._open[(dropped.topic, dropped.key)]
                self._bytes -= len(dropped.data)
                self._events -= dropped.events
                self.counters.dropped += dropped.events
                self.counters.dropped_bytes += len(dropped.data)
            return
        if self._policy == "block" and may_block:
            deadline = time.monotonic() + self._block_timeout_s
            while self._bytes + size > self._max_bytes:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._room.wait(remaining):
                    break
            if self._bytes + size <= self._max_bytes:
                return
        self.counters.refused += 1
        raise BufferFull(
            f"buffer holds {self._bytes} of {self._max_bytes} bytes"
            f" (overflow policy {self._policy!r})"
        )

    def take(self) -> list[Envelope]:
        """Remove and return every envelope, oldest first."""
        with self._lock:
            taken = list(self._envelopes)
            self._envelopes.clear()
            self._open.clear()
            self._bytes = 0
            self._events = 0
            self._flush_signalled = False
            self._room.notify_all()
        return taken

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
    room: int
    """Bytes the envelope may still take."""
    data: bytearray = field(default_factory=bytearray)
    events: int = 0

    def value(self) -> bytes:
        """The Kafka message value: the NDJSON without its final newline."""
        return bytes(self.data[:-1])


@dataclass(slots=True)
class BufferCounters:
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
        may_block: Callable[[], bool] = lambda: True,
    ) -> None:
        self._max_bytes = max_bytes
        self._policy = policy
        self._block_timeout_s = block_timeout_s
        self._flush_bytes = flush_bytes
        self._max_events = max_events
        self._max_envelope_bytes = max_envelope_bytes
        self._on_flush_due = on_flush_due
        self._may_block = may_block
        self._envelopes: deque[Envelope] = deque()
        self._open: dict[tuple[str, bytes], Envelope] = {}
        self._bytes = 0
        self._taken_events = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._flush_signalled = False
        # One comparison on the common path: past it, room is made or a flush is due.
        self._watermark = min(max_bytes, flush_bytes - 1)
        self.counters = BufferCounters()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    @property
    def accepted(self) -> int:
        """Events put so far (dropped ones included)."""
        with self._lock:
            return self._taken_events + self.counters.dropped + self._held_events()

    def __len__(self) -> int:
        """Events held."""
        with self._lock:
            return self._held_events()

    def _held_events(self) -> int:
        return sum(envelope.events for envelope in self._envelopes)

    def put(self, address: tuple[str, bytes], line: bytes) -> None:
        """Append one event's JSON line (ending in a newline) to the open envelope of its
        address (topic, message key)."""
        size = len(line)
        lock = self._lock
        lock.acquire()
        try:
            if self._bytes + size > self._watermark:
                self._past_watermark(size)
            envelope = self._open.get(address)
            if envelope is None or envelope.room < size or envelope.events == self._max_events:
                envelope = self._open[address] = Envelope(*address, self._max_envelope_bytes)
                self._envelopes.append(envelope)
            envelope.data += line
            envelope.events += 1
            envelope.room -= size
            self._bytes += size
        finally:
            lock.release()

    def _past_watermark(self, size: int) -> None:
        if self._bytes + size > self._max_bytes:
            self._make_room(size)
        if self._bytes + size >= self._flush_bytes and not self._flush_signalled:
            self._flush_signalled = True
            self._watermark = self._max_bytes
            if self._on_flush_due is not None:
                self._on_flush_due()

    def _make_room(self, size: int) -> None:
        if size > self._max_bytes:
            self.counters.refused += 1
            raise BufferFull(f"an event of {size} bytes exceeds the buffer of {self._max_bytes}")
        if self._policy == "drop_oldest":
            while self._bytes + size > self._max_bytes and self._envelopes:
                dropped = self._envelopes.popleft()
                if self._open.get((dropped.topic, dropped.key)) is dropped:
                    del self._open[(dropped.topic, dropped.key)]
                self._bytes -= len(dropped.data)
                self.counters.dropped += dropped.events
                self.counters.dropped_bytes += len(dropped.data)
            return
        if self._policy == "block" and self._may_block():
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
            self._taken_events += sum(envelope.events for envelope in taken)
            self._envelopes.clear()
            self._open.clear()
            self._bytes = 0
            self._flush_signalled = False
            self._watermark = min(self._max_bytes, self._flush_bytes - 1)
            self._room.notify_all()
        return taken

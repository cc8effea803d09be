"""A bounded, thread-safe buffer of encoded events, with an explicit overflow policy."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from meterstream_sdk.config import OverflowPolicy
from meterstream_sdk.errors import BufferFull


@dataclass(frozen=True, slots=True)
class Pending:
    topic: str
    key: bytes
    line: bytes


@dataclass(slots=True)
class BufferCounters:
    accepted: int = 0
    dropped: int = 0
    dropped_bytes: int = 0
    refused: int = 0


class EventBuffer:
    """Holds encoded events until the flusher takes them; never more than `max_bytes`.

    Overflow: `drop_oldest` evicts the oldest events (counted), `raise` refuses
    the new one with BufferFull, `block` waits up to `block_timeout_s` for room
    and then refuses it.
    """

    def __init__(
        self,
        *,
        max_bytes: int,
        policy: OverflowPolicy,
        block_timeout_s: float,
        flush_bytes: int,
        on_flush_due: Callable[[], None] | None = None,
    ) -> None:
        self._max_bytes = max_bytes
        self._policy = policy
        self._block_timeout_s = block_timeout_s
        self._flush_bytes = flush_bytes
        self._on_flush_due = on_flush_due
        self._items: deque[Pending] = deque()
        self._bytes = 0
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)
        self._flush_signalled = False
        self.counters = BufferCounters()

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Pending, *, may_block: bool = True) -> None:
        size = len(item.line)
        signal = False
        with self._lock:
            if self._bytes + size > self._max_bytes:
                self._make_room(size, may_block=may_block)
            self._items.append(item)
            self._bytes += size
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
            while self._bytes + size > self._max_bytes:
                dropped = self._items.popleft()
                self._bytes -= len(dropped.line)
                self.counters.dropped += 1
                self.counters.dropped_bytes += len(dropped.line)
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

    def take(self, max_items: int | None = None) -> list[Pending]:
        """Remove and return the oldest events (all of them by default)."""
        with self._lock:
            if max_items is None or max_items >= len(self._items):
                taken = list(self._items)
                self._items.clear()
            else:
                taken = [self._items.popleft() for _ in range(max_items)]
            self._bytes -= sum(len(item.line) for item in taken)
            self._flush_signalled = False
            self._room.notify_all()
        return taken

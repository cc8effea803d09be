"""The bounded buffer and its overflow policies; no I/O."""

from __future__ import annotations

import threading
import time

import pytest

from meterstream_sdk import BufferFull
from meterstream_sdk.buffer import EventBuffer, Pending


def item(size: int) -> Pending:
    return Pending("t", b"k", b"x" * size)


def test_drop_oldest_keeps_the_newest_and_counts_what_it_dropped() -> None:
    buffer = EventBuffer(max_bytes=100, policy="drop_oldest", block_timeout_s=0, flush_bytes=1000)
    for size in (40, 40, 40):
        buffer.put(item(size))
    assert buffer.size_bytes == 80
    assert (buffer.counters.dropped, buffer.counters.dropped_bytes) == (1, 40)


def test_raise_refuses_the_new_event() -> None:
    buffer = EventBuffer(max_bytes=100, policy="raise", block_timeout_s=0, flush_bytes=1000)
    buffer.put(item(60))
    with pytest.raises(BufferFull, match="60 of 100 bytes"):
        buffer.put(item(60))
    assert buffer.counters.refused == 1


def test_block_waits_for_room_then_gives_up() -> None:
    buffer = EventBuffer(max_bytes=100, policy="block", block_timeout_s=0.2, flush_bytes=1000)
    buffer.put(item(60))
    started = time.monotonic()
    with pytest.raises(BufferFull):
        buffer.put(item(60))
    assert time.monotonic() - started >= 0.19


def test_block_resumes_when_the_flusher_takes_events() -> None:
    buffer = EventBuffer(max_bytes=100, policy="block", block_timeout_s=5, flush_bytes=1000)
    buffer.put(item(60))
    threading.Timer(0.1, buffer.take).start()
    buffer.put(item(60))
    assert buffer.size_bytes == 60


def test_crossing_the_flush_threshold_signals_once_per_cycle() -> None:
    calls: list[int] = []
    buffer = EventBuffer(
        max_bytes=1000,
        policy="raise",
        block_timeout_s=0,
        flush_bytes=50,
        on_flush_due=lambda: calls.append(1),
    )
    for _ in range(5):
        buffer.put(item(20))
    assert len(calls) == 1
    assert len(buffer.take()) == 5
    buffer.put(item(60))
    assert len(calls) == 2


def test_an_event_larger_than_the_buffer_is_refused_whatever_the_policy() -> None:
    buffer = EventBuffer(max_bytes=10, policy="drop_oldest", block_timeout_s=0, flush_bytes=5)
    with pytest.raises(BufferFull, match="exceeds the buffer"):
        buffer.put(item(11))

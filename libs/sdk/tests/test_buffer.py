"""The bounded envelope-building buffer and its overflow policies; no I/O."""

from __future__ import annotations

import threading
import time

import pytest

from meterstream_sdk import BufferFull
from meterstream_sdk.buffer import EventBuffer
from meterstream_sdk.config import OverflowPolicy


def buffer_of(
    max_bytes: int,
    policy: OverflowPolicy = "raise",
    *,
    block_timeout_ms: int = 0,
    max_events: int = 500,
    max_envelope_bytes: int = 900_000,
) -> EventBuffer:
    return EventBuffer(
        max_bytes=max_bytes,
        policy=policy,
        block_timeout_s=block_timeout_ms / 1000,
        flush_bytes=10**9,
        max_events=max_events,
        max_envelope_bytes=max_envelope_bytes,
    )


def line(chars: int) -> bytes:
    """An event's line as the emitter hands it over: `chars` of JSON and a newline."""
    return b"x" * chars + b"\n"


def test_events_become_envelopes_per_topic_and_key_within_limits() -> None:
    buffer = buffer_of(10_000, max_events=3, max_envelope_bytes=1000)
    for key in (b"a", b"b", b"a", b"a", b"a"):
        buffer.put(("t", key), b'{"k":' + key + b"}\n")
    assert len(buffer) == 5
    envelopes = buffer.take()
    assert [(e.key, e.events) for e in envelopes] == [(b"a", 3), (b"b", 1), (b"a", 1)]
    assert envelopes[0].value() == b'{"k":a}\n{"k":a}\n{"k":a}'
    assert len(buffer) == 0
    assert buffer.size_bytes == 0


def test_envelope_byte_limit_starts_a_new_envelope() -> None:
    buffer = buffer_of(10_000, max_events=100, max_envelope_bytes=25)
    for _ in range(3):
        buffer.put(("t", b"k"), line(10))
    assert [e.events for e in buffer.take()] == [2, 1]


def test_drop_oldest_drops_whole_old_envelopes_and_counts_their_events() -> None:
    buffer = buffer_of(100, policy="drop_oldest", max_events=2)
    for _ in range(5):
        buffer.put(("t", b"k"), line(19))  # 20 bytes with its newline
    buffer.put(("t", b"k"), line(39))
    assert buffer.size_bytes <= 100
    assert buffer.counters.dropped == 2
    assert buffer.counters.dropped_bytes == 40
    assert sum(e.events for e in buffer.take()) == 4


def test_raise_refuses_the_new_event() -> None:
    buffer = buffer_of(100)
    buffer.put(("t", b"k"), line(59))
    with pytest.raises(BufferFull, match="60 of 100 bytes"):
        buffer.put(("t", b"k"), line(59))
    assert buffer.counters.refused == 1


def test_block_waits_for_room_then_gives_up() -> None:
    buffer = buffer_of(100, policy="block", block_timeout_ms=200)
    buffer.put(("t", b"k"), line(59))
    started = time.monotonic()
    with pytest.raises(BufferFull):
        buffer.put(("t", b"k"), line(59))
    assert time.monotonic() - started >= 0.19


def test_block_resumes_when_the_flusher_takes_events() -> None:
    buffer = buffer_of(100, policy="block", block_timeout_ms=5000)
    buffer.put(("t", b"k"), line(59))
    threading.Timer(0.1, buffer.take).start()
    buffer.put(("t", b"k"), line(59))
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
        buffer.put(("t", b"k"), line(19))
    assert len(calls) == 1
    buffer.take()
    buffer.put(("t", b"k"), line(59))
    assert len(calls) == 2


def test_an_event_larger_than_the_buffer_is_refused_whatever_the_policy() -> None:
    buffer = buffer_of(10, policy="drop_oldest")
    with pytest.raises(BufferFull, match="exceeds the buffer"):
        buffer.put(("t", b"k"), line(11))


def test_accepted_counts_every_event_put_whether_held_taken_or_dropped() -> None:
    buffer = buffer_of(100, policy="drop_oldest", max_events=2)
    for _ in range(3):
        buffer.put(("t", b"k"), line(19))
    assert (buffer.accepted, len(buffer)) == (3, 3)
    assert sum(e.events for e in buffer.take()) == 3
    for _ in range(6):
        buffer.put(("t", b"k"), line(19))  # the sixth drops the oldest envelope of two
    assert (buffer.accepted, len(buffer), buffer.counters.dropped) == (9, 4, 2)


def test_a_caller_that_may_not_block_is_refused_at_once_under_the_block_policy() -> None:
    buffer = EventBuffer(
        max_bytes=100,
        policy="block",
        block_timeout_s=5,
        flush_bytes=10**9,
        may_block=lambda: False,  # the flusher's own thread: waiting there would never end
    )
    buffer.put(("t", b"k"), line(59))
    started = time.monotonic()
    with pytest.raises(BufferFull):
        buffer.put(("t", b"k"), line(59))
    assert time.monotonic() - started < 1

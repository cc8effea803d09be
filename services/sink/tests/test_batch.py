"""Batch limits and offset bookkeeping; no I/O."""

from __future__ import annotations

import pytest

from meterstream_sink.batch import BatchBuilder, BatchLimits, ConsumedMessage, PollSizer


def message(
    offset: int, partition: int = 0, value: bytes = b"{}", topic: str = "t"
) -> ConsumedMessage:
    return ConsumedMessage(topic, partition, offset, 0, value)


def test_row_limit_counts_events_in_envelopes() -> None:
    builder = BatchBuilder(BatchLimits(max_rows=5, max_bytes=10_000, max_seconds=60))
    builder.add(message(0, value=b"{}\n{}\n{}"), now=0)
    assert not builder.is_due(now=0)
    builder.add(message(1, value=b"{}\n{}"), now=0)
    assert builder.is_due(now=0)


def test_time_limit_starts_at_the_first_message() -> None:
    builder = BatchBuilder(BatchLimits(max_rows=1000, max_bytes=10_000, max_seconds=2))
    assert builder.seconds_left(now=100) == 2
    assert not builder.is_due(now=100)
    builder.add(message(0), now=100)
    assert builder.seconds_left(now=101) == 1
    assert builder.is_due(now=102)


def test_byte_limit() -> None:
    builder = BatchBuilder(BatchLimits(max_rows=1000, max_bytes=10, max_seconds=60))
    builder.add(message(0, value=b"x" * 11), now=0)
    assert builder.is_full()


def test_offsets_to_commit_are_one_past_the_last_per_partition() -> None:
    builder = BatchBuilder(BatchLimits(max_rows=1000, max_bytes=10_000, max_seconds=60))
    for offset, partition in [(5, 0), (6, 0), (9, 1), (7, 0), (2, 2)]:
        builder.add(message(offset, partition), now=0)
    batch = builder.take()
    assert batch.next_offsets() == {("t", 0): 8, ("t", 1): 10, ("t", 2): 3}
    assert builder.is_empty()


def test_a_poll_takes_as_many_records_as_fit_its_bytes() -> None:
    sizer = PollSizer(max_bytes=8 * 1024 * 1024, max_records=10_000)
    assert sizer.records() == 8  # nothing seen yet: records assumed to be 1 MiB
    for _ in range(30):
        sizer.observe(100, 100 * 200_000)  # envelopes of ~200 kB
    assert sizer.records() == pytest.approx(8 * 1024 * 1024 // 200_000, abs=1)
    for _ in range(30):
        sizer.observe(1000, 1000 * 300)  # single events
    assert sizer.records() == 10_000
    sizer.observe(0, 0)
    assert sizer.records() == 10_000


def test_a_poll_takes_at_least_one_record() -> None:
    sizer = PollSizer(max_bytes=1024, max_records=500)
    sizer.observe(1, 50 * 1024 * 1024)
    assert sizer.records() == 1

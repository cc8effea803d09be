"""Handing a batch over to be stored, against a flush that took it first. No I/O."""

from __future__ import annotations

import asyncio
from typing import cast

from meterstream_kafka import KafkaConfig
from meterstream_sink.batch import ConsumedMessage
from meterstream_sink.config import SinkConfig
from meterstream_sink.service import ClickHouseSink
from meterstream_warehouse import Warehouse


async def test_a_batch_a_flush_took_first_is_not_handed_over_again() -> None:
    """A rebalance's flush ran between the loop seeing a full batch and the hand-over
    taking the lock (the partitioned-broker fault test caught it): the hand-over then found
    the builder empty, and committing its batch's offsets ({}) crashed the sink."""
    sink = ClickHouseSink(
        config=SinkConfig(max_batch_rows=1), kafka=KafkaConfig(), warehouse=cast(Warehouse, None)
    )
    stored: list[int] = []

    async def store_and_commit(batch: object) -> None:
        stored.append(len(batch.messages))  # type: ignore[attr-defined]

    sink._store_and_commit = store_and_commit  # type: ignore[method-assign]
    sink._builder.add(ConsumedMessage("t", 0, 0, 0, b"{}"), now=0.0)
    assert sink._builder.is_full()
    await sink._lock.acquire()  # the flush holds the lock and takes the batch
    hand_over = asyncio.create_task(sink._hand_over())
    await asyncio.sleep(0)
    await store_and_commit(sink._builder.take())
    sink._lock.release()
    await hand_over
    if sink._in_flight is not None:
        await sink._in_flight
    assert stored == [1]  # stored once, by the flush; nothing handed over after it

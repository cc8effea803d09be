"""Every partition back to its committed offset after a rebalance, offset 0 included.

faust drops the records it fetched while a rebalance or a table recovery was under way
and relies on seeking each partition back to its committed offset afterwards. It seeks
through aiokafka's `seek_to_committed`, which leaves alone a partition whose committed
offset is 0 or absent: its position stays past the dropped records and they are never
read again. A new group, or one placed at the start of an empty partition, loses the
first records that way (the crash storm in `tests/reliability` found it: a restarted
worker began at offset 8 of a partition committed at 0).

`rewind_to_committed` does what `seek_to_committed` does and also seeks those
partitions: to offset 0, or to the log start when nothing was committed and the group
resets to the earliest offset. `install` puts it in place of faust's seek.

faust also resumes the stream partitions before that seek, while the flow is already
active: records fetched from the old position in between reached the agents, and in the
rebalance-churn test the last message of a partition was then never consumed. `install`
stops the flow until faust's own end of recovery has sought and resumes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.tables import recovery
from faust.transport.drivers import aiokafka as faust_aiokafka


async def rewind_to_committed(
    consumer: AIOKafkaConsumer, *, reset: str
) -> Mapping[TopicPartition, int | None]:
    """Seek every assigned partition to its committed offset and return those offsets."""
    committed: Mapping[TopicPartition, int | None] = await consumer.seek_to_committed()
    for tp, offset in committed.items():
        if offset == 0:
            consumer.seek(tp, 0)
    never = [tp for tp, offset in committed.items() if offset is None]
    if never and reset == "earliest":
        await consumer.seek_to_beginning(*never)
    return committed


def install() -> None:
    """faust's consumer thread seeks with `rewind_to_committed` (idempotent)."""
    thread: Any = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread.seek_to_committed, "rewinds_zero", False):
        return

    async def seek_to_committed(self: Any) -> Mapping[TopicPartition, int | None]:
        reset = self.app.conf.consumer_auto_offset_reset
        result: Mapping[TopicPartition, int | None] = await self.call_thread(
            rewind_to_committed, self._ensure_consumer(), reset=reset
        )
        return result

    seek_to_committed.rewinds_zero = True  # type: ignore[attr-defined]
    thread.seek_to_committed = seek_to_committed
    for name in ("_resume_streams", "on_recovery_completed"):
        _seek_before_flow(name)


def _seek_before_flow(name: str) -> None:
    """faust's end of recovery (`name`) resumes partitions, seeks, then resumes the flow:
    the flow is stopped first, so nothing is fetched from before the seek."""
    cls: Any = recovery.Recovery
    original = getattr(cls, name)

    async def with_flow_stopped(self: Any, generation_id: int = 0) -> None:
        self.app.consumer.stop_flow()
        self.app.flow_control.suspend()
        await original(self, generation_id)

    setattr(cls, name, with_flow_stopped)

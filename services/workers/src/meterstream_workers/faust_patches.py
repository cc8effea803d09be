"""Two corrections to faust's aiokafka driver, put in place by `install`.

- Idempotent producers, like every other producer of the project. faust sends with
  acks=-1 but asks aiokafka for idempotence only inside a transaction, so a retry after
  a broker failure (a leader killed or cut off mid-request) could write a derived record
  twice. The merge stage tolerates a duplicate, a changelog too; it is still a needless
  record, and the cluster fault suite retries a lot.
- The livelock detector skips a partition that has no position yet. It reads each
  assigned partition's position to log slow processing; aiokafka 0.14 asserts that the
  position is known, and a partition whose offset is still being looked up (its leader
  cut off from the cluster, in the cluster fault suite) raised AssertionError there,
  which crashed the worker's consumer and the worker with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import TopicPartition
from faust.transport.drivers import aiokafka as faust_aiokafka

_INSTALLED = "_meterstream_patched"


def install() -> None:
    producer: Any = faust_aiokafka.Producer
    thread: Any = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(producer, _INSTALLED, False):
        return
    settings_extra: Callable[[Any], Mapping[str, Any]] = producer._settings_extra
    verify_event_path: Callable[[Any, float, Any], None] = thread.verify_event_path

    def idempotent_settings(self: Any) -> Mapping[str, Any]:
        return {**settings_extra(self), "enable_idempotence": True}

    def verify_placed_event_path(self: Any, now: float, tp: Any) -> None:
        consumer = self._consumer
        if consumer is not None:
            subscription = consumer._fetcher._subscriptions.subscription
            assignment = getattr(subscription, "assignment", None)
            placed = TopicPartition(tp.topic, tp.partition)
            state = assignment.state_value(placed) if assignment is not None else None
            if state is None or not state.has_valid_position:
                return None  # being placed: nothing to say about its progress yet
        return verify_event_path(self, now, tp)

    producer._settings_extra = idempotent_settings
    thread.verify_event_path = verify_placed_event_path
    setattr(producer, _INSTALLED, True)

"""The hot path: encode on the caller's thread, buffer, and deliver from a background task.

A log call costs one dict, one orjson encode and one buffer append on the
caller's thread. Delivery (packing envelopes per key, sending, retrying) runs
in the event loop, at least every `flush_interval_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson

from meterstream_contracts import TOPICS
from meterstream_contracts.envelope import DEFAULT_MAX_BYTES
from meterstream_sdk.buffer import Envelope, EventBuffer
from meterstream_sdk.config import SdkConfig
from meterstream_sdk.ids import EventIds
from meterstream_sdk.transport import RejectedByGateway, TransientDeliveryError, Transport

log = logging.getLogger("meterstream_sdk")

DeliveryErrorCallback = Callable[[Exception, int], None]
"""Called with the error and the number of events given up on."""


@dataclass(slots=True)
class DeliveryCounters:
    delivered: int = 0
    failed: int = 0
    retries: int = 0


_AS_LINE = orjson.OPT_APPEND_NEWLINE

Address = tuple[str, bytes]
"""Where a record goes: its topic and its message key."""
_MAX_ADDRESSES = 100_000


class Emitter:
    def __init__(
        self,
        config: SdkConfig,
        transport: Transport,
        *,
        on_delivery_error: DeliveryErrorCallback | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.ids = EventIds()
        self.delivery = DeliveryCounters()
        self._on_delivery_error = on_delivery_error
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._send_lock: asyncio.Lock | None = None
        self.buffer = EventBuffer(
            max_bytes=config.max_buffer_bytes,
            policy=config.overflow,
            block_timeout_s=config.block_timeout_s,
            flush_bytes=config.flush_bytes,
            max_events=config.max_events_per_envelope,
            max_envelope_bytes=DEFAULT_MAX_BYTES,
            on_flush_due=self._wake_flusher,
            # Never block the loop thread itself: it is the one that makes room.
            may_block=lambda: threading.get_ident() != self._loop_thread,
        )
        self._specs = {spec.kind: spec for spec in TOPICS.event_topics}
        # A record's slot: its kind and key field values, which fix its address.
        self._slot_of = {
            spec.kind: itemgetter("kind", *spec.key_fields) for spec in TOPICS.event_topics
        }
        self._addresses: dict[tuple[str, ...], Address] = {}
        self._loop_thread: int | None = None
        self.collectors: list[Callable[[], list[tuple[str, dict[str, Any]]]]] = []
        """Called before each flush for events aggregated in-process (instrument points)."""

    def emit(self, kind: str, record: dict[str, Any]) -> str:
        """Fill the common fields the record lacks (event_id, time), encode and buffer it;
        returns its event_id."""
        if "event_id" not in record:
            record["event_id"] = self.ids.next()
        if "time" not in record:
            record["time"] = datetime.now(UTC)
        record["kind"] = kind
        record["schema_version"] = 1
        self.emit_whole(record)
        return str(record["event_id"])

    def emit_whole(self, record: dict[str, Any]) -> None:
        """Encode and buffer a record that has every common field (kind, schema_version,
        event_id, time, project) already."""
        slot = self._slot_of[record["kind"]](record)
        address = self._addresses.get(slot) or self._address(slot, record)
        self.buffer.put(address, orjson.dumps(record, option=_AS_LINE))

    def _address(self, slot: tuple[str, ...], record: dict[str, Any]) -> Address:
        """The topic and message key of a slot seen for the first time; remembered."""
        if len(self._addresses) >= _MAX_ADDRESSES:
            self._addresses.clear()
        spec = self._specs[record["kind"]]
        address = self._addresses[slot] = (spec.name, spec.key_of(record))
        return address

    def _wake_flusher(self) -> None:
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._send_lock = asyncio.Lock()
        await self.transport.start()
        self._task = asyncio.create_task(self._flush_periodically(), name="meterstream-flusher")

    async def _flush_periodically(self) -> None:
        assert self._wake is not None
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.flush_interval_s)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        """Deliver everything buffered so far (and wait for the acknowledgements)."""
        assert self._send_lock is not None
        for collect in self.collectors:
            for kind, record in collect():
                self.emit(kind, record)
        async with self._send_lock:
            while len(self.buffer):
                await self._deliver(self.buffer.take())

    async def _deliver(self, envelopes: list[Envelope]) -> None:
        by_topic: dict[str, list[Envelope]] = defaultdict(list)
        for envelope in envelopes:
            by_topic[envelope.topic].append(envelope)
        for topic, group in by_topic.items():
            messages = [(envelope.key, envelope.value()) for envelope in group]
            await self._send_with_retry(topic, messages, sum(e.events for e in group))

    async def _send_with_retry(
        self, topic: str, messages: list[tuple[bytes, bytes]], count: int
    ) -> None:
        deadline = time.monotonic() + self.config.delivery_timeout_s
        delay = 0.1
        while True:
            try:
                remaining = max(0.1, deadline - time.monotonic())
                try:
                    await asyncio.wait_for(self.transport.send(topic, messages), remaining)
                except TimeoutError as error:
                    raise TransientDeliveryError(
                        f"no acknowledgement in {remaining:.1f}s"
                    ) from error
                self.delivery.delivered += count
                return
            except TransientDeliveryError as error:
                if time.monotonic() + delay > deadline:
                    self._give_up(error, count)
                    return
                self.delivery.retries += 1
                log.warning("delivery to %s failed, retrying in %.1fs: %s", topic, delay, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            except RejectedByGateway as error:
                self._give_up(error, len(error.rejected))
                self.delivery.delivered += max(0, count - len(error.rejected))
                return

    def _give_up(self, error: Exception, count: int) -> None:
        self.delivery.failed += count
        log.error("gave up delivering %d events: %s", count, error)
        if self._on_delivery_error is not None:
            try:
                self._on_delivery_error(error, count)
            except Exception:
                log.exception("on_delivery_error callback failed")

    async def close(self) -> None:
        """Deliver what is buffered, stop the flusher and the transport."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._task is not None:
            await self._task
        await self.flush()
        await self.transport.close()

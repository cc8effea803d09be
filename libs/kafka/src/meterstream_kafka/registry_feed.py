"""Follow compacted registry topics: replay each to its end at start, then keep reading.

Every process that needs a registry (metric keys, metric definitions, prices)
reads all of its partitions itself, outside any consumer group, so each
process sees every record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer

from meterstream_contracts import split_envelope
from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.offsets import end_offsets

log = logging.getLogger("meterstream_kafka")

RecordHandler = Callable[[dict[str, Any]], None]

MALFORMED = (AttributeError, LookupError, TypeError, ValueError)
"""What a record that is not a registry record raises in a handler."""


def registry_records(value: bytes, timestamp_ms: int) -> Iterator[dict[str, Any]]:
    """The JSON-object lines of a registry message; a record without `time` takes the
    message's append time (the contract's default for a producer that left it out)."""
    appended = datetime.fromtimestamp(timestamp_ms / 1000, UTC).isoformat()
    for line in split_envelope(value):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            log.warning("ignoring a registry line that is not JSON")
            continue
        if isinstance(record, dict):
            record.setdefault("time", appended)
            yield record


class RegistryFeed:
    """Hands every record of the given topics to that topic's handler, in log order."""

    def __init__(self, config: KafkaConfig, handlers: Mapping[str, RecordHandler]) -> None:
        self._handlers = dict(handlers)
        self._config = config
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self.loaded = asyncio.Event()

    def add_handler(self, topic: str, handler: RecordHandler) -> None:
        """Follow one more topic (before `start`)."""
        if self._consumer is not None:
            raise RuntimeError("the feed has started: add handlers before start()")
        self._handlers[topic] = handler

    async def start(self, *, within_s: float = 30.0) -> None:
        """Read every topic to its end (at most `within_s`), then follow in the background."""
        self._consumer = consumer = AIOKafkaConsumer(
            bootstrap_servers=self._config.bootstrap_servers,
            enable_auto_commit=False,
            metadata_max_age_ms=self._config.metadata_max_age_ms,
        )
        ends = await end_offsets(self._config, list(self._handlers))
        partitions = list(ends)
        await consumer.start()
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        while any([await consumer.position(p) < ends[p] for p in partitions]):
            if loop.time() > deadline:
                log.warning("registries not fully loaded in %.0fs", within_s)
                break
            await self._poll()
        self.loaded.set()
        self._task = asyncio.create_task(self._follow(), name="meterstream-registry-feed")

    async def _poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for partition, messages in batches.items():
            handle = self._handlers[partition.topic]
            for message in messages:
                for record in registry_records(message.value or b"", message.timestamp):
                    try:
                        handle(record)
                    except MALFORMED as error:
                        log.warning("ignoring a malformed %s record: %s", partition.topic, error)

    async def _follow(self) -> None:
        while True:
            await self._poll()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

"""What every agent group needs: the faust app, the registries, topics, tables, publishing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from pydantic import BaseModel

from meterstream_contracts import TOPICS, MessageOrigin, encode_event
from meterstream_contracts.envelope import VALIDATED_HEADER, VALIDATED_HEADER_VALUE
from meterstream_kafka import RegistryFeed, Replication
from meterstream_workers.config import WorkerConfig
from meterstream_workers.registries import WorkerRegistries

log = logging.getLogger("meterstream_workers")

VALIDATED = {VALIDATED_HEADER: VALIDATED_HEADER_VALUE}


def is_validated(headers: Any) -> bool:
    pairs = headers.items() if hasattr(headers, "items") else headers or ()
    return any(key == VALIDATED_HEADER and value == VALIDATED_HEADER_VALUE for key, value in pairs)


def origin_of(event: Any) -> MessageOrigin:
    message = event.message
    return MessageOrigin(
        message.topic, message.partition, message.offset, int(message.timestamp * 1000)
    )


def envelopes(topic: str, records: Iterable[BaseModel | dict[str, Any]]) -> dict[bytes, bytes]:
    """Records packed into one NDJSON envelope per message key of the topic."""
    spec = TOPICS.by_name(topic)
    by_key: dict[bytes, list[bytes]] = {}
    for record in records:
        line = encode_event(record) if isinstance(record, BaseModel) else orjson.dumps(record)
        by_key.setdefault(spec.key_of(record), []).append(line)
    return {key: b"\n".join(lines) for key, lines in by_key.items()}


@dataclass
class Wiring:
    app: faust.App
    config: WorkerConfig
    registries: WorkerRegistries
    feed: RegistryFeed
    replication: Replication
    _out: dict[str, Any] = field(default_factory=dict)

    @property
    def windows(self) -> tuple[int, ...]:
        return tuple(sorted(self.config.window_seconds))

    def topic(self, *names: str) -> Any:
        return self.app.topic(*names, value_serializer="raw", key_serializer="raw")

    def forget_on_rebalance(self, forget: Callable[[], None]) -> None:
        """Call `forget` whenever partitions are revoked (every rebalance revokes them
        all): a working set kept beside a table is read back from the table afterwards,
        as another worker may have changed it meanwhile."""

        async def revoked(app: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            forget()

        self.app.on_partitions_revoked.connect(revoked)

    def table(self, name: str, *, partitions: int = 4) -> Any:
        """A changelog-backed table, partitioned as the topics its agent reads."""
        return self.app.Table(
            name,
            default=None,
            partitions=partitions,
            key_type=str,
            extra_topic_configs={"min.insync.replicas": str(self.replication.min_insync)},
        )

    async def publish(self, topic: str, records: Iterable[BaseModel | dict[str, Any]]) -> None:
        """Derived records go out marked validated (the workers built them from models);
        returns once the broker acknowledged every one."""
        if topic not in self._out:
            self._out[topic] = self.topic(topic)
        headers = VALIDATED if TOPICS.by_name(topic).role == "derived" else None
        sent = [
            await self._out[topic].send(key=key, value=value, headers=headers)
            for key, value in envelopes(topic, records).items()
        ]
        # Wait for the broker's acks before the agent takes its next event: the source
        # offset is committed only once its outputs are stored (a SIGKILL between the
        # two would otherwise lose them).
        await asyncio.gather(*sent)

"""Publish contract events to their catalogue topics, packed into envelopes per key."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer

from meterstream_contracts import TOPICS, Event, pack_by_key
from meterstream_contracts.envelope import pack_lines_by_key
from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.producer import make_producer, send_messages


async def publish_events(
    producer: AIOKafkaProducer, events: Iterable[Event], *, max_events_per_envelope: int = 500
) -> int:
    """Send events (any mix of kinds) and wait for every ack; returns the messages sent.

    The events are pydantic models, validated when built, so envelopes are marked validated.
    """
    by_kind: dict[str, list[Event]] = defaultdict(list)
    for event in events:
        by_kind[event.kind].append(event)
    sent = 0
    for kind, group in by_kind.items():
        spec = TOPICS.for_kind(kind)
        messages = pack_by_key(group, topic=spec, max_events=max_events_per_envelope)
        await send_messages(producer, spec.name, messages, validated=True)
        sent += len(messages)
    return sent


async def publish_lines(
    producer: AIOKafkaProducer,
    kind: str,
    lines: Iterable[tuple[bytes, bytes]],
    *,
    max_events_per_envelope: int = 500,
) -> int:
    """Send events of `kind` already encoded as their contract's JSON lines ((message key,
    line) pairs, from an encoder that validated them) and wait for every ack; returns the
    messages sent."""
    messages = pack_lines_by_key(lines, max_events=max_events_per_envelope)
    await send_messages(producer, TOPICS.for_kind(kind).name, messages, validated=True)
    return len(messages)


async def publish_once(
    config: KafkaConfig, events: Iterable[Event], *, max_events_per_envelope: int = 500
) -> int:
    """`publish_events` through a producer of its own, started and stopped around it (for
    commands and tests that publish once)."""
    producer = make_producer(config)
    await producer.start()
    try:
        return await publish_events(
            producer, events, max_events_per_envelope=max_events_per_envelope
        )
    finally:
        await producer.stop()

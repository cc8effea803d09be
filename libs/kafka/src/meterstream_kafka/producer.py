"""Producers configured the one way this project produces: idempotent, acks=all, compressed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from meterstream_contracts.envelope import VALIDATED_HEADER, VALIDATED_HEADER_VALUE
from meterstream_kafka.config import KafkaConfig


def make_producer(config: KafkaConfig, *, client_id: str | None = None) -> AIOKafkaProducer:
    """An idempotent producer (acks=all) with linger and compression from the config."""
    return AIOKafkaProducer(
        bootstrap_servers=config.bootstrap_servers,
        client_id=client_id or config.client_id,
        enable_idempotence=True,
        acks="all",
        compression_type=config.compression_type,
        linger_ms=config.linger_ms,
        max_batch_size=config.max_batch_bytes,
        max_request_size=config.max_batch_bytes * 2,
        request_timeout_ms=config.request_timeout_ms,
        metadata_max_age_ms=config.metadata_max_age_ms,
    )


async def send_messages(
    producer: AIOKafkaProducer,
    topic: str,
    messages: Sequence[tuple[bytes | None, bytes]],
    *,
    validated: bool = False,
) -> None:
    """Send (key, value) messages and return once the broker acknowledged every one.

    `validated` marks envelopes whose every event passed its contract, so the
    sink may store them without decoding them again.
    """
    headers = [(VALIDATED_HEADER, VALIDATED_HEADER_VALUE)] if validated else None
    futures = [
        await producer.send(topic, value=value, key=key, headers=headers) for key, value in messages
    ]
    if futures:
        await asyncio.gather(*futures)

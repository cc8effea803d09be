"""Where envelopes go: Kafka directly (explicit batches per partition) or the HTTP gateway."""

from __future__ import annotations

import asyncio
import gzip
from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from meterstream_contracts.envelope import VALIDATED_HEADER, VALIDATED_HEADER_VALUE
from meterstream_kafka import KafkaConfig, make_producer

Message = tuple[bytes, bytes]
"""(key, envelope value)"""


class TransientDeliveryError(Exception):
    """The destination is unreachable or overloaded; the same batch may be retried."""


class RejectedByGateway(Exception):
    """The gateway refused some events; retrying them cannot help."""

    def __init__(self, rejected: list[dict[str, object]]) -> None:
        super().__init__(f"{len(rejected)} events rejected by the gateway")
        self.rejected = rejected


class Transport(Protocol):
    async def start(self) -> None: ...

    async def send(self, topic: str, messages: Sequence[Message]) -> None:
        """Deliver and wait for the acknowledgement of every message."""

    async def close(self) -> None: ...


class KafkaTransport:
    """Idempotent acks=all producer; envelopes appended to explicit per-partition batches."""

    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        self._producer: AIOKafkaProducer | None = None
        self._partitioner = DefaultPartitioner()
        self._headers = [(VALIDATED_HEADER, VALIDATED_HEADER_VALUE)]

    @property
    def producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("KafkaTransport.start() has not run")
        return self._producer

    async def start(self) -> None:
        # Created here, inside the event loop that drives it.
        self._producer = make_producer(self._config, client_id=f"{self._config.client_id}-sdk")
        await self._producer.start()

    async def send(self, topic: str, messages: Sequence[Message]) -> None:
        producer = self.producer
        try:
            partitions = sorted(await producer.partitions_for(topic))
            by_partition: dict[int, list[Message]] = defaultdict(list)
            for key, value in messages:
                by_partition[self._partitioner(key, partitions, partitions)].append((key, value))
            futures = []
            for partition, group in by_partition.items():
                batch = producer.create_batch()
                for key, value in group:
                    appended = batch.append(
                        key=key, value=value, timestamp=None, headers=self._headers
                    )
                    if appended is None:  # the batch is full: send it, start another
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                        batch = producer.create_batch()
                        batch.append(key=key, value=value, timestamp=None, headers=self._headers)
                futures.append(await producer.send_batch(batch, topic, partition=partition))
            await asyncio.gather(*futures)
        except Exception as error:  # aiokafka raises many kinds; all are worth a retry here
            raise TransientDeliveryError(f"{type(error).__name__}: {error}") from error

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()


class HttpTransport:
    """POST gzip'd NDJSON to the gateway's /v1/events with the project's API key."""

    def __init__(self, gateway_url: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=gateway_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/x-ndjson"},
            timeout=timeout_s,
        )

    async def start(self) -> None:
        return None

    async def send(self, topic: str, messages: Sequence[Message]) -> None:
        if not messages:
            return  # the gateway refuses an empty batch
        body = gzip.compress(b"\n".join(value for _, value in messages), compresslevel=1)
        try:
            response = await self._client.post(
                "/v1/events", content=body, headers={"Content-Encoding": "gzip"}
            )
        except httpx.HTTPError as error:
            raise TransientDeliveryError(f"gateway unreachable: {error}") from error
        if response.status_code in (429, 502, 503, 504):
            raise TransientDeliveryError(f"gateway answered {response.status_code}")
        if response.status_code >= 400:
            raise RejectedByGateway([{"status": response.status_code, "body": response.text[:500]}])
        rejected = response.json().get("rejected", [])
        if rejected:
            raise RejectedByGateway(rejected)

    async def get_json(self, path: str, params: dict[str, str]) -> object:
        response = await self._client.get(path, params=params)
        response.raise_for_status()
        return response.json()

    async def close(self) -> None:
        await self._client.aclose()

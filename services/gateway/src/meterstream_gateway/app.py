"""The doors: /v1/events (JSON or NDJSON, gzip/zstd), OTLP/HTTP /v1/metrics and /v1/traces
(protobuf or JSON), and OTLP/gRPC on its own port.

A 2xx (gRPC OK) means Kafka acknowledged every accepted event. Each item is validated
on its own and the response says which were rejected and why.

(No `from __future__ import annotations` here: FastAPI resolves the route
annotations, which name dependencies local to `create_app`.)
"""

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.responses import ORJSONResponse, Response
from google.protobuf import json_format
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from meterstream_contracts import TOPICS, Event
from meterstream_contracts.api_keys import ApiKeyStore, hash_key
from meterstream_contracts.fields import RetentionWindow
from meterstream_gateway.body import BadBody, BodyTooLarge, decompress, split_items
from meterstream_gateway.config import GatewayConfig
from meterstream_gateway.items import check_items
from meterstream_gateway.metrics import GatewayMetrics
from meterstream_gateway.otlp import CumulativeToDelta
from meterstream_gateway.otlp_grpc import start_grpc
from meterstream_gateway.otlp_ingest import Exported, export_metrics, export_traces
from meterstream_gateway.refusals import HTTP_STATUS, Refused
from meterstream_kafka import (
    KafkaConfig,
    apply_topics,
    make_producer,
    publish_events,
    publish_lines,
)
from meterstream_sdk.keys import KeyRegistry
from meterstream_sdk.registry_feed import KafkaKeyFeed

log = logging.getLogger("meterstream_gateway")


@dataclass(frozen=True, slots=True)
class Caller:
    project: str
    key_hash: str


@dataclass
class Gateway:
    """What the routes share: keys, limits, the producer, metrics."""

    config: GatewayConfig
    kafka: KafkaConfig
    keys: ApiKeyStore
    metrics: GatewayMetrics
    registry: KeyRegistry
    cumulative: CumulativeToDelta
    limiter: MovingWindowRateLimiter
    producer: AIOKafkaProducer | None = None
    feed: KafkaKeyFeed | None = None

    def __post_init__(self) -> None:
        self.rate = parse(self.config.rate_limit)

    def authenticate(self, authorization: str | None, x_api_key: str | None) -> Caller:
        key = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
        if not key and self.config.anonymous_project:
            return Caller(self.config.anonymous_project, "anonymous")
        project = self.keys.project_for(key) if key else None
        if project is None:
            raise Refused(
                "unauthorized", "a valid API key is required (Authorization: Bearer <key>)"
            )
        return Caller(project, hash_key(key))

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:  # a compressed body is never larger than what it expands to
                raise Refused("too_large", f"body exceeds {limit} bytes")
        try:
            return decompress(bytes(raw), request.headers.get("content-encoding"), limit=limit)
        except BodyTooLarge as error:
            raise Refused("too_large", str(error)) from error
        except BadBody as error:
            raise Refused("bad_body", str(error)) from error

    def items(self, body: bytes) -> list[Any]:
        try:
            items = split_items(body)
        except BadBody as error:
            raise Refused("bad_body", str(error)) from error
        if not items:
            raise Refused("bad_body", "the batch is empty: send at least one event")
        if len(items) > self.config.max_items:
            raise Refused("too_many_items", f"at most {self.config.max_items} events per request")
        return items

    def admit(self, who: Caller, cost: int) -> None:
        if not self.limiter.hit(self.rate, who.key_hash, cost=max(1, cost)):
            raise Refused(
                "rate_limited",
                f"rate limit {self.config.rate_limit} events per key exceeded",
                retry_after_s=1,
            )

    async def produce(
        self,
        events: list[Event],
        route: str,
        completion_lines: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        """Send `events` and completions already encoded as lines; return once Kafka
        acknowledged every one."""
        assert self.producer is not None
        started = time.perf_counter()
        try:
            if events:
                await publish_events(self.producer, events)
            if completion_lines:
                await publish_lines(self.producer, "completion", completion_lines)
        except Exception as error:
            raise Refused(
                "kafka_unavailable", f"Kafka did not acknowledge the events: {error}"
            ) from error
        self.metrics.kafka_seconds.observe(time.perf_counter() - started)
        self.metrics.accepted.labels(route).inc(len(events) + len(completion_lines))

    async def export(self, signal: str, who: Caller, body: bytes, *, as_json: bool) -> Exported:
        """An OTLP export of `signal` (metrics or traces), from either door."""

        def admit(count: int) -> None:
            self.admit(who, count)

        if signal == "metrics":
            exported = export_metrics(
                body,
                as_json=as_json,
                project=who.project,
                state=self.cumulative,
                max_points=self.config.max_items,
                admit=admit,
                kept=RetentionWindow.ending_now(self.config.raw_retention_days),
            )
        else:
            exported = export_traces(
                body,
                as_json=as_json,
                project=who.project,
                max_spans=self.config.max_items,
                admit=admit,
                kept=RetentionWindow.ending_now(self.config.raw_retention_days),
            )
        self.metrics.rejected.labels(f"invalid_{signal}").inc(exported.rejected)
        for outcome, count in (exported.spans or {}).items():
            self.metrics.spans.labels(outcome).inc(count)
        if exported.events or exported.completion_lines:
            await self.produce(list(exported.events), f"otlp_{signal}", exported.completion_lines)
        return exported

    async def export_grpc(self, signal: str, body: bytes, metadata: dict[str, str]) -> bytes:
        try:
            who = self.authenticate(metadata.get("authorization"), metadata.get("x-api-key"))
            exported = await self.export(signal, who, body, as_json=False)
        except Refused as refused:
            self.metrics.rejected.labels(refused.reason).inc()  # counted where it is answered
            raise
        return exported.response.SerializeToString()


OTLP_MEDIA_TYPES = {
    "application/x-protobuf": False,
    "application/protobuf": False,
    "application/json": True,
}


def otlp_is_json(content_type: str | None) -> bool:
    """Whether an OTLP/HTTP body is JSON (else protobuf, also when no type is given); any
    other media type is refused, as OTLP specifies."""
    media = (content_type or "application/x-protobuf").split(";", 1)[0].strip().lower()
    if media not in OTLP_MEDIA_TYPES:
        raise Refused(
            "unsupported_media_type",
            f"Content-Type {media!r} is not OTLP: send application/x-protobuf or application/json",
        )
    return OTLP_MEDIA_TYPES[media]


def create_app(config: GatewayConfig, kafka: KafkaConfig) -> FastAPI:
    gateway = Gateway(
        config=config,
        kafka=kafka,
        keys=ApiKeyStore.from_settings(config.api_keys, config.api_keys_file),
        metrics=GatewayMetrics(),
        registry=KeyRegistry(),
        cumulative=CumulativeToDelta(config.otlp_series_limit),
        limiter=MovingWindowRateLimiter(MemoryStorage()),
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await apply_topics(kafka, TOPICS.event_topics)
        gateway.producer = make_producer(kafka, client_id=f"{kafka.client_id}-gateway")
        await gateway.producer.start()
        gateway.feed = KafkaKeyFeed(kafka, gateway.registry)
        await gateway.feed.start()
        grpc_server = None
        if config.otlp_grpc_port is not None:
            grpc_server, port = await start_grpc(
                host=config.host,
                port=config.otlp_grpc_port,
                max_message_bytes=config.max_body_bytes,
                metrics=lambda body, meta: gateway.export_grpc("metrics", body, meta),
                traces=lambda body, meta: gateway.export_grpc("traces", body, meta),
            )
            log.info("OTLP/gRPC on %s:%d", config.host, port)
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(grace=5)  # answer what is in flight
            await gateway.feed.close()
            await gateway.producer.stop()

    app = FastAPI(
        title="meterstream gateway", lifespan=lifespan, default_response_class=ORJSONResponse
    )

    @app.exception_handler(Refused)
    async def refused(_: Request, error: Refused) -> Response:
        gateway.metrics.rejected.labels(error.reason).inc()  # counted where it is answered
        headers = {} if error.retry_after_s is None else {"Retry-After": str(error.retry_after_s)}
        return ORJSONResponse({"detail": error.message}, HTTP_STATUS[error.reason], headers=headers)

    def caller(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Caller:
        return gateway.authenticate(authorization, x_api_key)

    @app.post("/v1/events")
    async def ingest(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        items = gateway.items(await gateway.read_body(request))
        gateway.admit(who, len(items))
        checked = check_items(
            items,
            project=who.project,
            kept=RetentionWindow.ending_now(gateway.config.raw_retention_days),
        )
        if checked.foreign_projects:
            others = sorted(checked.foreign_projects)
            raise Refused(
                "forbidden_project", f"this key writes only project {who.project!r}, not {others}"
            )
        gateway.metrics.rejected.labels("invalid_event").inc(len(checked.rejected))
        if checked.events:
            await gateway.produce(checked.events, "events")
        rejected = [rejection.as_json() for rejection in checked.rejected]
        status = 200 if checked.events else 400
        return ORJSONResponse({"accepted": len(checked.events), "rejected": rejected}, status)

    async def otlp(signal: str, request: Request, who: Caller) -> Response:
        as_json = otlp_is_json(request.headers.get("content-type"))
        body = await gateway.read_body(request)
        exported = await gateway.export(signal, who, body, as_json=as_json)
        if as_json:
            return Response(
                json_format.MessageToJson(exported.response, indent=None),
                media_type="application/json",
            )
        return Response(exported.response.SerializeToString(), media_type="application/x-protobuf")

    @app.post("/v1/metrics")
    async def otlp_metrics(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        return await otlp("metrics", request, who)

    @app.post("/v1/traces")
    async def otlp_traces(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        return await otlp("traces", request, who)

    @app.get("/v1/keys")
    async def keys(
        who: Annotated[Caller, Depends(caller)], project: Annotated[str, Query()]
    ) -> Any:
        if project != who.project:
            raise Refused("forbidden_project", f"this key reads only project {who.project!r}")
        return [
            info.as_record() for info in gateway.registry.list(project) if info.category != "system"
        ]

    @app.get("/healthz")
    async def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(gateway.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app

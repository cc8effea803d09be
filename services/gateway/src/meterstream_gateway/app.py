"""The HTTP door: /v1/events (JSON or NDJSON, gzip/zstd) and /v1/metrics (OTLP/HTTP).

A 2xx means Kafka acknowledged every accepted event. Each item is validated on
its own and the response says which were rejected and why.

(No `from __future__ import annotations` here: FastAPI resolves the route
annotations, which name dependencies local to `create_app`.)
"""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from aiokafka import AIOKafkaProducer
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import ORJSONResponse, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from meterstream_contracts import TOPICS, Event
from meterstream_contracts.api_keys import ApiKeyStore, hash_key
from meterstream_gateway.body import BadBody, BodyTooLarge, decompress, split_items
from meterstream_gateway.config import GatewayConfig
from meterstream_gateway.items import check_items
from meterstream_gateway.metrics import GatewayMetrics
from meterstream_gateway.otlp import BadOtlp, CumulativeToDelta, map_request, parse_request
from meterstream_kafka import KafkaConfig, apply_topics, make_producer, publish_events
from meterstream_sdk.keys import KeyRegistry
from meterstream_sdk.registry_feed import KafkaKeyFeed


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
        project = self.keys.project_for(key) if key else None
        if project is None:
            self.metrics.rejected.labels("unauthorized").inc()
            raise HTTPException(401, "a valid API key is required (Authorization: Bearer <key>)")
        return Caller(project, hash_key(key))

    async def read_body(self, request: Request) -> bytes:
        limit = self.config.max_body_bytes
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > limit:  # a compressed body is never larger than what it expands to
                self.metrics.rejected.labels("too_large").inc()
                raise HTTPException(413, f"body exceeds {limit} bytes")
        try:
            return decompress(bytes(raw), request.headers.get("content-encoding"), limit=limit)
        except BodyTooLarge as error:
            self.metrics.rejected.labels("too_large").inc()
            raise HTTPException(413, str(error)) from error
        except BadBody as error:
            self.metrics.rejected.labels("bad_body").inc()
            raise HTTPException(400, str(error)) from error

    def items(self, body: bytes) -> list[Any]:
        try:
            items = split_items(body)
        except BadBody as error:
            self.metrics.rejected.labels("bad_body").inc()
            raise HTTPException(400, str(error)) from error
        if len(items) > self.config.max_items:
            self.metrics.rejected.labels("too_many_items").inc()
            raise HTTPException(413, f"at most {self.config.max_items} events per request")
        return items

    def admit(self, who: Caller, cost: int) -> None:
        if not self.limiter.hit(self.rate, who.key_hash, cost=max(1, cost)):
            self.metrics.rejected.labels("rate_limited").inc()
            raise HTTPException(
                429,
                f"rate limit {self.config.rate_limit} events per key exceeded",
                headers={"Retry-After": "1"},
            )

    async def produce(self, events: list[Event], route: str) -> None:
        assert self.producer is not None
        started = time.perf_counter()
        try:
            await publish_events(self.producer, events)
        except Exception as error:
            self.metrics.rejected.labels("kafka_unavailable").inc()
            raise HTTPException(503, f"Kafka did not acknowledge the events: {error}") from error
        self.metrics.kafka_seconds.observe(time.perf_counter() - started)
        self.metrics.accepted.labels(route).inc(len(events))


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
        try:
            yield
        finally:
            await gateway.feed.close()
            await gateway.producer.stop()

    app = FastAPI(
        title="meterstream gateway", lifespan=lifespan, default_response_class=ORJSONResponse
    )

    def caller(
        authorization: Annotated[str | None, Header()] = None,
        x_api_key: Annotated[str | None, Header()] = None,
    ) -> Caller:
        return gateway.authenticate(authorization, x_api_key)

    @app.post("/v1/events")
    async def ingest(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        items = gateway.items(await gateway.read_body(request))
        gateway.admit(who, len(items))
        checked = check_items(items, project=who.project)
        if checked.foreign_projects:
            gateway.metrics.rejected.labels("forbidden_project").inc()
            others = sorted(checked.foreign_projects)
            raise HTTPException(403, f"this key writes only project {who.project!r}, not {others}")
        gateway.metrics.rejected.labels("invalid_event").inc(len(checked.rejected))
        if checked.events:
            await gateway.produce(checked.events, "events")
        rejected = [rejection.as_json() for rejection in checked.rejected]
        status = 200 if checked.events or not items else 400
        return ORJSONResponse({"accepted": len(checked.events), "rejected": rejected}, status)

    @app.post("/v1/metrics")
    async def otlp_metrics(request: Request, who: Annotated[Caller, Depends(caller)]) -> Any:
        body = await gateway.read_body(request)
        content_type = request.headers.get("content-type", "application/x-protobuf")
        try:
            otlp = parse_request(body, content_type)
        except BadOtlp as error:
            gateway.metrics.rejected.labels("bad_body").inc()
            raise HTTPException(400, str(error)) from error
        mapped = map_request(otlp, project=who.project, state=gateway.cumulative)
        gateway.admit(who, len(mapped.points))
        gateway.metrics.rejected.labels("invalid_point").inc(len(mapped.rejected))
        if mapped.points:
            await gateway.produce(list(mapped.points), "otlp")
        if "json" in content_type:
            message = "; ".join(mapped.rejected[:5])
            partial = {"rejectedDataPoints": len(mapped.rejected), "errorMessage": message}
            return ORJSONResponse({"partialSuccess": partial} if mapped.rejected else {})
        return Response(b"", media_type="application/x-protobuf")

    @app.get("/v1/keys")
    async def keys(
        who: Annotated[Caller, Depends(caller)], project: Annotated[str, Query()]
    ) -> Any:
        if project != who.project:
            raise HTTPException(403, f"this key reads only project {who.project!r}")
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

"""The gateway and the OTLP receiver as a real process, in front of the real broker."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import zstandard
from aiokafka import TopicPartition

from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts import TOPICS, Event, InstrumentPoint, decode_envelope
from meterstream_contracts.api_keys import hash_key
from meterstream_contracts.examples import load_examples
from meterstream_kafka import KafkaConfig, apply_topics, catalogue_end_offsets
from meterstream_sdk import Client, SdkConfig
from tests.integration.kafka_io import read_from

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KEY_A, KEY_B = "key-project-a", "key-project-b"


class Gateway:
    def __init__(self, url: str, project_a: str, project_b: str) -> None:
        self.url = url
        self.project_a = project_a
        self.project_b = project_b

    def post(self, path: str, body: bytes, *, key: str = KEY_A, **headers: str) -> httpx.Response:
        return httpx.post(
            self.url + path,
            content=body,
            headers={"Authorization": f"Bearer {key}", **headers},
            timeout=30,
        )


@pytest.fixture(scope="module")
def gateway(_kafka_service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    suffix = uuid.uuid4().hex[:8]
    project_a, project_b = f"gw-a-{suffix}", f"gw-b-{suffix}"
    port = free_port()
    log = Path(tmp_path_factory.mktemp("gateway")) / "gateway.log"
    process = gateway_process(
        KafkaConfig(bootstrap_servers=_kafka_service),
        port=port,
        api_keys=f"{project_a}:{hash_key(KEY_A)},{project_b}:{hash_key(KEY_B)}",
        log_path=log,
        env={
            "MS_GATEWAY_MAX_BODY_BYTES": str(2 * 1024 * 1024),
            "MS_GATEWAY_RATE_LIMIT": "20000/second",
        },
    )
    url = f"http://127.0.0.1:{port}"
    yield Gateway(url, project_a, project_b)
    process.stop()


def events_for(
    config: KafkaConfig, start: dict[TopicPartition, int], project: str, wanted: int
) -> list[Event]:
    def mine(values: list[bytes]) -> list[Event]:
        found: list[Event] = []
        for value in values:
            for kind in {s.kind for s in TOPICS.event_topics}:
                decoded = decode_envelope(value, kind=kind)
                found.extend(e for e in decoded.events if e.project == project)
        return found

    values = asyncio.run(read_from(config, start, until=lambda v: len(mine(v)) >= wanted))
    return mine(values)


def test_mixed_batch_is_accepted_item_by_item_and_lands_after_the_ack(
    gateway: Gateway, kafka_config: KafkaConfig
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    start = asyncio.run(catalogue_end_offsets(kafka_config))
    good = [
        orjson.loads(load_examples(kind).valid[0])
        for kind in ("completion", "grader_score", "training_step")
    ]
    for event in good:
        event.pop("project")
        event.pop("event_id")
    bad = {**good[0], "latency_ms": -1}
    body = gzip.compress(orjson.dumps([good[0], bad, good[1], good[2]]))
    response = gateway.post("/v1/events", body, **{"Content-Encoding": "gzip"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 3
    assert [r["index"] for r in answer["rejected"]] == [1]
    assert "latency_ms" in answer["rejected"][0]["reason"]
    landed = events_for(kafka_config, start, gateway.project_a, 3)
    assert sorted(e.kind for e in landed) == ["completion", "grader_score", "training_step"]


def test_times_the_store_cannot_keep_are_refused_naming_the_field_and_the_range(
    gateway: Gateway,
) -> None:
    """Before, a year-9999 event got its 200 and Kafka's ack, then the raw table's
    retention rule overflowed and ClickHouse dropped the row: acknowledged, then lost."""
    good = orjson.loads(load_examples("completion").valid[0])
    good.pop("project")
    good.pop("event_id")
    far = {**good, "time": "9999-12-31T23:59:59Z"}
    ancient = {**good, "started_at": "0001-01-01T00:00:00Z"}
    response = gateway.post("/v1/events", orjson.dumps([far, good, ancient]))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["accepted"] == 1
    assert [r["index"] for r in answer["rejected"]] == [0, 2]
    for rejection, field in zip(answer["rejected"], ("time", "started_at"), strict=True):
        assert field in rejection["reason"]
        assert "2000-01-01" in rejection["reason"]
        assert "2100-01-01" in rejection["reason"]


def test_an_empty_batch_is_a_400_saying_so(gateway: Gateway) -> None:
    for body in (b"", b"   \n\t\n", b"[]"):
        response = gateway.post("/v1/events", body)
        assert response.status_code == 400, (body, response.text)
        assert "empty" in response.json()["detail"]


def test_ndjson_with_zstd(gateway: Gateway) -> None:
    line = (
        load_examples("metric_value")
        .valid[0]
        .replace(b'"acme-chat"', f'"{gateway.project_a}"'.encode())
    )
    body = zstandard.ZstdCompressor().compress(line + b"\n" + line)
    response = gateway.post(
        "/v1/events", body, **{"Content-Encoding": "zstd", "Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2


def test_keys_are_checked_and_scoped_to_their_project(gateway: Gateway) -> None:
    event = orjson.loads(load_examples("completion").valid[0])
    event["project"] = gateway.project_b
    assert gateway.post("/v1/events", orjson.dumps([event]), key="wrong").status_code == 401
    forbidden = gateway.post("/v1/events", orjson.dumps([event]), key=KEY_A)
    assert forbidden.status_code == 403
    assert gateway.project_b in forbidden.text
    assert gateway.post("/v1/events", orjson.dumps([event]), key=KEY_B).status_code == 200
    assert (
        httpx.get(
            gateway.url + "/v1/keys",
            params={"project": gateway.project_b},
            headers={"Authorization": f"Bearer {KEY_A}"},
        ).status_code
        == 403
    )


def test_size_and_rate_limits(gateway: Gateway) -> None:
    huge = gzip.compress(b" " * (3 * 1024 * 1024))
    assert gateway.post("/v1/events", huge, **{"Content-Encoding": "gzip"}).status_code == 413
    line = orjson.dumps(
        {
            "kind": "preference",
            "key": "k",
            "preferred_completion_id": "a",
            "other_completion_id": "b",
        }
    )
    codes = [
        gateway.post("/v1/events", b"\n".join([line] * 9000), key=KEY_B).status_code
        for _ in range(4)
    ]
    assert 429 in codes
    labels = {f"k{i}": "v" for i in range(40)}
    capped = orjson.dumps(
        [
            {
                "kind": "completion",
                "model": "m",
                "started_at": "2026-01-01T00:00:00Z",
                "latency_ms": 1,
                "labels": labels,
            }
        ]
    )
    answer = gateway.post("/v1/events", capped, key=KEY_A)
    assert answer.status_code == 400
    assert (
        "labels: Dictionary should have at most 32 items" in answer.json()["rejected"][0]["reason"]
    )


def test_an_opentelemetry_sdk_exporter_delivers_instrument_points(
    gateway: Gateway, kafka_config: KafkaConfig
) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    start = {
        tp: off
        for tp, off in asyncio.run(catalogue_end_offsets(kafka_config)).items()
        if tp.topic == TOPICS.for_kind("instrument_point").name
    }
    exporter = OTLPMetricExporter(
        endpoint=gateway.url + "/v1/metrics", headers={"authorization": f"Bearer {KEY_A}"}
    )
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": "otel-test"})
    )
    meter = provider.get_meter("test")
    tokens = meter.create_counter("gen_ai.client.token.usage", unit="{token}")
    latency = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    depth = meter.create_gauge("queue_depth")
    tokens.add(5, {"gen_ai.request.model": "m"})
    latency.record(0.2)
    latency.record(1.5)
    depth.set(7)
    assert provider.force_flush()
    tokens.add(3, {"gen_ai.request.model": "m"})
    latency.record(0.3)
    assert provider.force_flush()
    provider.shutdown()
    points = [
        e
        for e in events_for(kafka_config, start, gateway.project_a, 5)
        if isinstance(e, InstrumentPoint)
    ]
    counter_values = [p.value or 0.0 for p in points if p.name == "gen_ai.client.token.usage"]
    # shutdown() exports once more; an unchanged cumulative series is a delta of 0
    assert counter_values[:2] == [5, 3], "cumulative OTel counters must arrive as deltas"
    assert sum(counter_values) == 8
    histogram_counts = [
        p.histogram.count
        for p in points
        if p.name == "gen_ai.client.operation.duration" and p.histogram
    ]
    assert [count for count in histogram_counts if count] == [2, 1]
    gauges = [p for p in points if p.name == "queue_depth"]
    assert gauges[0].value == 7
    assert gauges[0].attributes.get("service.name") == "otel-test"


def test_the_sdk_can_send_through_the_gateway(gateway: Gateway, kafka_config: KafkaConfig) -> None:
    start = asyncio.run(catalogue_end_offsets(kafka_config))
    config = SdkConfig(transport="http", gateway_url=gateway.url, api_key=KEY_A)
    with Client(project=gateway.project_a, config=config) as client:
        client.register_key("rating")
        client.log_metric(4.0, "c-1", "rating")
        client.log_completion(model="http-model", latency_ms=12.0)
        client.flush()
        assert client.counters["failed"] == 0
    landed = events_for(kafka_config, start, gateway.project_a, 3)
    assert {e.kind for e in landed} >= {"metric_key", "metric_value", "completion"}

"""A corpus of hostile and odd requests against a real gateway process, with a sink storing
into ClickHouse: each request gets its status, the gateway stays up within a stated
memory bound, and the valid events and points sent beside bad ones are stored."""

from __future__ import annotations

import asyncio
import gzip
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2

from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY = "corpus-key"
MAX_RSS_MB = 300
ARTIFACTS = Path(os.environ.get("MS_TEST_ARTIFACTS", ".meterstream/artifacts"))
DELTA = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_DELTA
CUMULATIVE = metrics_pb2.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


def now_ns() -> int:
    return time.time_ns()


def completion(**fields: Any) -> bytes:
    at = datetime.now(UTC).isoformat()
    event = {"kind": "completion", "model": "corpus-ok", "started_at": at, "latency_ms": 5.0}
    return orjson.dumps({**event, **fields})


def metrics(*metric: metrics_pb2.Metric) -> ExportMetricsServiceRequest:
    request = ExportMetricsServiceRequest()
    scope = request.resource_metrics.add().scope_metrics.add()
    scope.metrics.extend(metric)
    return request


def gauge(
    name: str, value: float, *, at: int | None = None, **attributes: str
) -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name=name)
    point = metric.gauge.data_points.add(time_unix_nano=at or now_ns(), as_double=value)
    point.attributes.extend(
        KeyValue(key=key, value=AnyValue(string_value=text)) for key, text in attributes.items()
    )
    return metric


def good_gauge() -> metrics_pb2.Metric:
    return gauge("corpus.ok", 1.0)


def negative_counter() -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name="corpus.counter")
    metric.sum.is_monotonic = True
    metric.sum.aggregation_temporality = DELTA
    metric.sum.data_points.add(time_unix_nano=now_ns(), as_double=-1.0)
    return metric


def exponential(scale: int, offset: int) -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name="corpus.exp")
    metric.exponential_histogram.aggregation_temporality = DELTA
    point = metric.exponential_histogram.data_points.add(
        time_unix_nano=now_ns(), scale=scale, count=3, sum=1.0
    )
    point.positive.offset = offset
    point.positive.bucket_counts.extend([1, 2])
    return metric


def cumulative_histogram(bounds: list[float], counts: list[int]) -> metrics_pb2.Metric:
    metric = metrics_pb2.Metric(name="corpus.hist")
    metric.histogram.aggregation_temporality = CUMULATIVE
    metric.histogram.data_points.add(
        start_time_unix_nano=1, time_unix_nano=now_ns(), count=sum(counts), sum=1.0,
        explicit_bounds=bounds, bucket_counts=counts,
    )  # fmt: skip
    return metric


def many_points(count: int) -> bytes:
    metric = metrics_pb2.Metric(name="corpus.flood")
    at = now_ns()
    for i in range(count):
        metric.gauge.data_points.add(time_unix_nano=at, as_double=float(i))
    return metrics(metric).SerializeToString()


@dataclass
class Case:
    name: str
    path: str
    body: bytes
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    check: Callable[[httpx.Response], None] | None = None
    completions: int = 0
    """Valid completions sent beside the bad ones (model corpus-ok)."""
    points: int = 0
    """Valid points sent beside the bad ones (corpus.ok)."""


def rejected(*parts: str) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        body = answer.json()
        reasons = " | ".join(r["reason"] for r in body["rejected"])
        for part in parts:
            assert part in reasons, reasons

    return check


def partial(count: int, *parts: str) -> Callable[[httpx.Response], None]:
    def check(answer: httpx.Response) -> None:
        response = ExportMetricsServiceResponse()
        response.ParseFromString(answer.content)
        assert response.partial_success.rejected_data_points == count, response
        for part in parts:
            assert part in response.partial_success.error_message, response

    return check


def events_case(name: str, bad: bytes, *parts: str) -> Case:
    body = b"\n".join([completion(), bad, completion()])
    return Case(name, "/v1/events", body, 200, check=rejected(*parts), completions=2)


def corpus() -> list[Case]:
    ndjson = {"Content-Type": "application/x-ndjson"}
    protobuf = {"Content-Type": "application/x-protobuf"}
    old = (datetime.now(UTC) - timedelta(days=120)).isoformat()
    nested = b"[" * 5000 + b"]" * 5000
    bomb = gzip.compress(b"\0" * 200_000_000, 1)
    relaid = cumulative_histogram([1.0, 5.0, 9.0], [1, 1, 1, 1])
    cases = [
        events_case("event in year 9999", completion(time="9999-01-01T00:00:00Z"), "time", "2100"),
        events_case("event in year 1", completion(time="0001-01-01T00:00:00Z"), "time", "2000"),
        events_case("event older than retention", completion(time=old), "older than the raw"),
        events_case("project twice", b'{"project":"a","project":"b","kind":"completion"}',
                    'duplicate key "project"'),
        events_case("label twice", completion(labels={"a": "1"})[:-2] + b',"a":"2"}}',
                    'duplicate key "a"'),
        events_case("invalid UTF-8 line", b'{"kind":"completion","model":"\xff"}', "not valid"),
        events_case("deeply nested line", b'{"kind":"completion","labels":' + nested + b"}",
                    "<event>"),
        events_case("NaN latency", b'{"kind":"completion","model":"m","latency_ms":NaN}',
                    "latency_ms: Input should be a finite number"),
        Case("empty body", "/v1/events", b"", 400, ndjson),
        Case("whitespace body", "/v1/events", b"  \n \n", 400, ndjson),
        Case("deeply nested array", "/v1/events", b"[" * 100_000 + b"]" * 100_000, 400),
        Case("gzip bomb (200 MB of zeros)", "/v1/events", bomb, 413,
             {**ndjson, "Content-Encoding": "gzip"}),
        Case("body over the cap", "/v1/events", b" " * (11 * 1024 * 1024), 413, ndjson),
        Case("unknown content encoding", "/v1/events", completion(), 400,
             {**ndjson, "Content-Encoding": "br"}),
        Case("truncated OTLP protobuf", "/v1/metrics",
             metrics(good_gauge(), good_gauge()).SerializeToString()[:-7], 400, protobuf),
        Case("OTLP with a wrong content type", "/v1/metrics",
             metrics(good_gauge()).SerializeToString(), 415, {"Content-Type": "text/plain"}),
        Case("OTLP/JSON with invalid UTF-8", "/v1/metrics",
             b'{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"\xff"}]}]}]}', 400,
             {"Content-Type": "application/json"}),
        Case("OTLP points: NaN, negative counter, 9 MB attribute, year 2554, beside a good one",
             "/v1/metrics",
             metrics(good_gauge(), gauge("corpus.nan", math.nan), negative_counter(),
                     gauge("corpus.big", 1.0, a="x" * 9_000_000),
                     gauge("corpus.late", 1.0, at=2**64 - 1)).SerializeToString(),
             200, protobuf, partial(4, "finite", "negative", "256 characters", "2100"), points=1),
        Case("exponential histogram at scale -11", "/v1/metrics",
             metrics(good_gauge(), exponential(-11, 5)).SerializeToString(), 200, protobuf,
             partial(1, "beyond the range of a double"), points=1),
        Case("exponential histogram at offset 2^31-1", "/v1/metrics",
             metrics(good_gauge(), exponential(0, 2**31 - 1)).SerializeToString(), 200, protobuf,
             partial(1, "beyond the range of a double"), points=1),
        Case("cumulative histogram, first layout", "/v1/metrics",
             metrics(good_gauge(), cumulative_histogram([1.0, 2.0], [1, 2, 3])).SerializeToString(),
             200, protobuf, partial(0), points=1),
        Case("cumulative histogram, its bucket layout changed", "/v1/metrics",
             metrics(good_gauge(), relaid).SerializeToString(),
             200, protobuf, partial(0), points=1),
        Case("OTLP request of 480,000 points (9.6 MB)", "/v1/metrics", many_points(480_000), 413,
             protobuf),
        Case("truncated OTLP traces", "/v1/traces", b"\x0a\xff\xff\xff\x0f", 400, protobuf),
    ]  # fmt: skip
    return cases


def rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set of a process, MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def test_hostile_requests_get_their_status_and_valid_neighbours_are_stored(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, server_store: ServerStore
) -> None:
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    port = free_port()
    gateway = gateway_process(
        kafka_config,
        port=port,
        api_keys=f"{project_name}:{hash_key(KEY)}",
        log_path=tmp_path / "gateway.log",
    )
    cases = corpus()
    table = [f"{'request':<78} {'status':>6} {'ms':>7} {'RSS MB':>7} {'peak MB':>8}"]
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(headers={"Authorization": f"Bearer {KEY}"}, timeout=60) as client:
            for case in cases:
                started = time.perf_counter()
                answer = client.post(url + case.path, content=case.body, headers=case.headers)
                took_ms = (time.perf_counter() - started) * 1000
                current, peak = rss_mb(gateway.pid)
                table.append(
                    f"{case.name:<78} {answer.status_code:>6} {took_ms:>7.0f} {current:>7.0f}"
                    f" {peak:>8.0f}"
                )
                assert answer.status_code == case.status, (case.name, answer.text[:500])
                if case.check is not None:
                    case.check(answer)
                assert client.get(f"{url}/healthz").status_code == 200, case.name
            peak = rss_mb(gateway.pid)[1]
        asyncio.run(harness.wait_caught_up(sink, within_s=120))
    finally:
        gateway.stop()
        sink.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / "hostile-corpus.txt").write_text("\n".join(table) + "\n")
        print("\n".join(table))
    assert peak <= MAX_RSS_MB, "\n".join(table)
    store = server_store.warehouse
    (stored,) = store.query_rows(
        "SELECT count() AS n FROM raw_completions FINAL"
        " WHERE project = {p:String} AND model = 'corpus-ok'",
        params={"p": project_name},
    )
    assert int(stored["n"]) == sum(case.completions for case in cases)
    (points,) = store.query_rows(
        "SELECT count() AS n FROM raw_instrument_points FINAL"
        " WHERE project = {p:String} AND name = 'corpus.ok'",
        params={"p": project_name},
    )
    assert int(points["n"]) == sum(case.points for case in cases)

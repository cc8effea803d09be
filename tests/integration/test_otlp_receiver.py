"""OpenTelemetry as applications send it, through the gateway, Kafka, the sink and ClickHouse:
the unmodified OpenTelemetry SDK exporting traces and metrics over gRPC and over HTTP, a
real instrumentation library instrumenting the real `openai` client (the provider is a
local stand-in, the only thing not real), retries, and refused requests."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import grpc
import httpx
import pytest
from google.rpc import error_details_pb2, status_pb2
from meterstream_otlp_native import TraceRequest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcMetricExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from meterstream_cli.processes import ServiceProcess, free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_gateway.otlp_traces_native import RULES
from meterstream_kafka import KafkaConfig
from meterstream_query import MetricRef, SeriesQuery, TimeRange, metric_series
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY, SLOW_KEY = "key-otlp", "key-otlp-rate-limited"
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass(frozen=True)
class Receiver:
    http: str
    grpc: str
    project: str
    limited_project: str


@pytest.fixture(scope="module")
def receiver(_kafka_service: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Receiver]:
    suffix = uuid.uuid4().hex[:8]
    project, limited = f"otlp-{suffix}", f"otlp-slow-{suffix}"
    port, grpc_port = free_port(), free_port()
    process = gateway_process(
        KafkaConfig(bootstrap_servers=_kafka_service),
        port=port,
        grpc_port=grpc_port,
        api_keys=f"{project}:{hash_key(KEY)},{limited}:{hash_key(SLOW_KEY)}",
        log_path=Path(tmp_path_factory.mktemp("otlp")) / "gateway.log",
        env={"MS_GATEWAY_MAX_BODY_BYTES": str(1024 * 1024), "MS_GATEWAY_RATE_LIMIT": "50/minute"},
    )
    try:
        yield Receiver(f"http://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", project, limited)
    finally:
        process.stop()


@pytest.fixture
def sink(kafka_config: KafkaConfig, server_store: ServerStore) -> Iterator[SinkHarness]:
    harness = SinkHarness(kafka_config, server_store.logs, server_store.env)
    asyncio.run(harness.prepare())
    process = harness.start("sink")
    harness.process = process  # type: ignore[attr-defined]
    try:
        yield harness
    finally:
        process.stop()


def caught_up(sink: SinkHarness) -> None:
    process: ServiceProcess = sink.process  # type: ignore[attr-defined]
    asyncio.run(sink.wait_caught_up(process))


def rows(store: ServerStore, sql: str, project: str) -> list[dict[str, Any]]:
    return store.warehouse.query_rows(sql, params={"p": project})


def chat_span(
    provider: TracerProvider, model: str, tokens: tuple[int, int], *, evaluated: bool = False
) -> None:
    tracer = provider.get_tracer("app")
    with (
        tracer.start_as_current_span("invoke_agent support"),  # not a model call
        tracer.start_as_current_span(f"chat {model}") as span,
    ):
        span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": model,
                "gen_ai.usage.input_tokens": tokens[0],
                "gen_ai.usage.output_tokens": tokens[1],
                "gen_ai.conversation.id": "conv-1",
            }
        )
        time.sleep(0.02)
        if evaluated:
            span.add_event(
                "gen_ai.evaluation.result",
                {"gen_ai.evaluation.name": "relevance", "gen_ai.evaluation.score.value": 0.9},
            )


def export_spans(exporter: SpanExporter, write: Any) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "support-bot"}))
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    write(provider)
    provider.shutdown()
    assert exporter.export(recorded.get_finished_spans()) == SpanExportResult.SUCCESS
    exporter.shutdown()


def test_the_opentelemetry_sdk_over_grpc_and_http_stores_calls_scores_and_metrics(
    receiver: Receiver, sink: SinkHarness, server_store: ServerStore
) -> None:
    auth = {"authorization": f"Bearer {KEY}"}
    grpc_exporter = GrpcSpanExporter(
        endpoint=f"http://{receiver.grpc}", insecure=True, headers=tuple(auth.items())
    )
    export_spans(grpc_exporter, lambda p: chat_span(p, "gpt-4o", (1000, 200), evaluated=True))
    http_exporter = HttpSpanExporter(endpoint=receiver.http + "/v1/traces", headers=auth)
    export_spans(http_exporter, lambda p: chat_span(p, "gpt-4o-mini", (300, 40)))

    metric_exporter = GrpcMetricExporter(
        endpoint=f"http://{receiver.grpc}", insecure=True, headers=tuple(auth.items())
    )
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    meters = MeterProvider(metric_readers=[reader])
    usage = meters.get_meter("app").create_histogram("gen_ai.client.token.usage", unit="{token}")
    usage.record(1000, {"gen_ai.token.type": "input", "gen_ai.request.model": "gpt-4o"})
    assert meters.force_flush()
    meters.shutdown()

    caught_up(sink)
    calls = rows(
        server_store,
        "SELECT model, input_tokens, output_tokens, latency_ms, status, labels"
        " FROM raw_completions FINAL WHERE project = {p:String} ORDER BY model",
        receiver.project,
    )
    assert [(c["model"], c["input_tokens"], c["output_tokens"]) for c in calls] == [
        ("gpt-4o", 1000, 200),
        ("gpt-4o-mini", 300, 40),
    ]
    assert all(c["latency_ms"] >= 20 and c["status"] == "ok" for c in calls)
    assert calls[0]["labels"] == {
        "service.name": "support-bot",
        "operation": "chat",
        "conversation.id": "conv-1",
    }
    (score,) = rows(
        server_store,
        "SELECT key, value FROM raw_grader_scores FINAL WHERE project = {p:String}",
        receiver.project,
    )
    assert (score["key"], score["value"]) == ("relevance", 0.9)
    points = rows(
        server_store,
        "SELECT name, attributes FROM raw_instrument_points WHERE project = {p:String}",
        receiver.project,
    )  # force_flush, then shutdown exports the (unchanged) cumulative series once more
    assert {p["name"] for p in points} == {"gen_ai.client.token.usage"}
    assert {p["attributes"]["gen_ai.token.type"] for p in points} == {"input"}
    # the query layer answers it by its convention name
    usage_series = metric_series(
        server_store.warehouse,
        project=receiver.project,
        query=SeriesQuery(
            metric=MetricRef.parse("instrument:gen_ai.client.token.usage"),
            aggregation="sum",
            time_range=TimeRange.last("1h"),
        ),
    )
    values = [v for series in usage_series.series for v in series.values if v is not None]
    assert values == [1000]  # an empty histogram (an unchanged cumulative series) adds nothing
    counted = re.search(
        r'meterstream_gateway_otlp_spans_total\{outcome="other"\} (\S+)',
        httpx.get(receiver.http + "/metrics").text,
    )
    assert counted is not None
    assert float(counted.group(1)) >= 2  # the agent spans: counted, not stored


class StandIn(BaseHTTPRequestHandler):
    """The provider, answering /v1/chat/completions; a prompt saying "fail" gets a 500."""

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "fail" in body["messages"][-1]["content"]:
            self._send(500, {"error": {"message": "upstream overloaded", "type": "server_error"}})
            return
        self._send(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:8]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"] + "-2026-01-01",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "hello"},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
            },
        )

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        return None


def test_an_instrumented_openai_client_s_calls_arrive_as_completions(
    receiver: Receiver, sink: SinkHarness, server_store: ServerStore
) -> None:
    import openai
    from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor

    provider_server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=provider_server.serve_forever, daemon=True).start()
    exporter = GrpcSpanExporter(
        endpoint=f"http://{receiver.grpc}",
        insecure=True,
        headers=(("authorization", f"Bearer {KEY}"),),
    )
    tracing = TracerProvider(resource=Resource.create({"service.name": "instrumented"}))
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    recorded = InMemorySpanExporter()
    tracing.add_span_processor(SimpleSpanProcessor(recorded))
    instrumentor = OpenAIInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument(tracer_provider=tracing)
    try:
        client = openai.OpenAI(
            api_key="sk-test",
            base_url=f"http://127.0.0.1:{provider_server.server_port}/v1",
            max_retries=0,
        )
        for prompt in ("hi", "hello again"):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
            )
        with pytest.raises(openai.InternalServerError):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": "please fail"}]
            )
    finally:
        instrumentor.uninstrument()
        tracing.shutdown()
        provider_server.shutdown()
    caught_up(sink)
    calls = rows(
        server_store,
        "SELECT model, provider, input_tokens, output_tokens, latency_ms, status, error_type"
        " FROM raw_completions FINAL WHERE project = {p:String}"
        " AND labels['service.name'] = 'instrumented' ORDER BY status, model",
        receiver.project,
    )
    assert [(c["status"], c["provider"]) for c in calls] == [
        ("error", "openai"),
        ("ok", "openai"),
        ("ok", "openai"),
    ]
    failed, *answered = calls
    assert failed["model"] == "gpt-4o-mini"  # no response: the requested model
    assert "InternalServerError" in failed["error_type"]
    for call in answered:
        assert (call["model"], call["input_tokens"], call["output_tokens"]) == (
            "gpt-4o-mini-2026-01-01",
            42,
            7,
        )
        assert call["latency_ms"] > 0
    # The instrumentation's own spans are what the gateway's fast path (Rust) is for: all
    # three mapped by it, none left to the reference mapping.
    body = encode_spans(recorded.get_finished_spans()).SerializeToString()
    lines, other, deferred = TraceRequest.parse(body).map_calls(RULES, receiver.project, 0)
    assert (len(lines), other, deferred) == (3, 0, [])


def test_an_exporter_s_retry_of_the_same_spans_is_stored_once(
    receiver: Receiver, sink: SinkHarness, server_store: ServerStore
) -> None:
    provider = TracerProvider()
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    chat_span(provider, "retried-model", (10, 1))
    spans: tuple[ReadableSpan, ...] = recorded.get_finished_spans()
    exporter = GrpcSpanExporter(
        endpoint=f"http://{receiver.grpc}",
        insecure=True,
        headers=(("authorization", f"Bearer {KEY}"),),
    )
    for _ in range(3):  # as an exporter does when the first answers were lost
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    exporter.shutdown()
    caught_up(sink)
    (stored,) = rows(
        server_store,
        "SELECT count() AS n FROM raw_completions FINAL"
        " WHERE project = {p:String} AND model = 'retried-model'",
        receiver.project,
    )
    assert stored["n"] == 1


def grpc_export(receiver: Receiver, body: bytes, key: str | None = KEY) -> Any:
    with grpc.insecure_channel(receiver.grpc) as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(TRACES)
        metadata = () if key is None else (("authorization", f"Bearer {key}"),)
        return call(body, metadata=metadata, timeout=30)


def grpc_error(receiver: Receiver, body: bytes, key: str | None = KEY) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        grpc_export(receiver, body, key)
    return raised.value


def one_good_one_bad() -> bytes:
    provider = TracerProvider()
    recorded = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(recorded))
    chat_span(provider, "kept-model", (5, 5))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("chat broken") as span:
        span.set_attributes({"gen_ai.request.model": "broken", "gen_ai.usage.input_tokens": -3})
        span.set_status(Status(StatusCode.OK))
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return bytes(encode_spans(recorded.get_finished_spans()).SerializeToString())


def test_bad_requests_get_otlp_s_codes_and_valid_spans_beside_bad_ones_are_kept(
    receiver: Receiver, sink: SinkHarness, server_store: ServerStore
) -> None:
    body = one_good_one_bad()
    answer = ExportTraceServiceResponse.FromString(grpc_export(receiver, body))
    assert answer.partial_success.rejected_spans == 1
    assert "gen_ai.usage.input_tokens" in answer.partial_success.error_message
    http = httpx.post(
        receiver.http + "/v1/traces",
        content=body,
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/x-protobuf"},
    )
    assert http.status_code == 200
    assert ExportTraceServiceResponse.FromString(http.content).partial_success.rejected_spans == 1

    truncated = body[: len(body) // 2]
    assert grpc_error(receiver, truncated).code() == grpc.StatusCode.INVALID_ARGUMENT
    assert grpc_error(receiver, body, key=None).code() == grpc.StatusCode.UNAUTHENTICATED
    assert grpc_error(receiver, body, key="wrong").code() == grpc.StatusCode.UNAUTHENTICATED
    oversize = ExportTraceServiceRequest()
    oversize.resource_spans.add().resource.attributes.add(key="x").value.string_value = (
        "x" * 2 * 1024 * 1024
    )
    too_big = grpc_error(receiver, oversize.SerializeToString())
    assert too_big.code() == grpc.StatusCode.RESOURCE_EXHAUSTED

    headers = {"authorization": f"Bearer {KEY}"}
    for content, content_type in (
        (truncated, "application/x-protobuf"),
        (b'{"resourceSpans": "not a list"}', "application/json"),
        (b"\xff\xfe not utf-8", "application/json"),
    ):
        refused = httpx.post(
            receiver.http + "/v1/traces",
            content=content,
            headers={**headers, "content-type": content_type},
        )
        assert refused.status_code == 400, refused.text
        assert "traces" in refused.json()["detail"]
    assert (
        httpx.post(
            receiver.http + "/v1/traces", content=oversize.SerializeToString(), headers=headers
        ).status_code
        == 413
    )

    caught_up(sink)
    kept = rows(
        server_store,
        "SELECT model, count() AS n FROM raw_completions FINAL WHERE project = {p:String}"
        " GROUP BY model",
        receiver.project,
    )
    assert {(k["model"], k["n"]) for k in kept} == {("kept-model", 1)}  # the same span twice


def test_the_rate_limit_says_when_to_retry(receiver: Receiver) -> None:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for number in range(60):  # over the 50 per minute of this gateway
        span = spans.add(trace_id=bytes(16), span_id=(number + 1).to_bytes(8, "big"), name="c")
        span.attributes.add(key="gen_ai.request.model").value.string_value = "m"
        span.start_time_unix_nano = span.end_time_unix_nano = time.time_ns()
    limited = grpc_error(receiver, request.SerializeToString(), key=SLOW_KEY)
    assert limited.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = cast(grpc.Call, limited).trailing_metadata() or ()
    packed = next(value for key, value in trailers if key == "grpc-status-details-bin")
    details = status_pb2.Status.FromString(cast(bytes, packed)).details
    retry = error_details_pb2.RetryInfo()
    assert details[0].Unpack(retry)
    assert retry.retry_delay.seconds >= 1
    http = httpx.post(
        receiver.http + "/v1/traces",
        content=request.SerializeToString(),
        headers={"authorization": f"Bearer {SLOW_KEY}"},
    )
    assert (http.status_code, http.headers["retry-after"]) == (429, "1")

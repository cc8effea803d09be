"""OTLP traces benchmark: GenAI spans/s through one gateway process, over gRPC and over HTTP.

Requests of 512 chat spans (as the OpenTelemetry SDK's batch processor sends them, every
span with its GenAI attributes, distinct ids) are posted from a second process for a fixed
time; every span becomes a completion acknowledged by Kafka before the answer. Prints
spans/s, the gateway's CPU µs per span and cores, and its peak RSS.
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from multiprocessing.queues import Queue
from pathlib import Path
from threading import Thread

import grpc
import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from benchmarks.broker import benchmark_kafka
from benchmarks.proc import cpu_seconds, peak_rss_mb
from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig

KEY = "bench-otlp-key"
SPANS_PER_REQUEST = 512
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def _attribute(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def request_bodies(count: int, spans: int = SPANS_PER_REQUEST) -> list[bytes]:
    """`count` export requests of `spans` GenAI chat spans each, all ids distinct."""
    bodies = []
    now = time.time_ns()
    for number in range(count):
        request = ExportTraceServiceRequest()
        resource = request.resource_spans.add()
        resource.resource.attributes.append(_attribute("service.name", "bench-app"))
        scope = resource.scope_spans.add()
        for index in range(spans):
            span = scope.spans.add(
                trace_id=number.to_bytes(8, "big") + index.to_bytes(8, "big"),
                span_id=(index + 1).to_bytes(8, "big"),
                name="chat gpt-4o-mini",
                start_time_unix_nano=now - 800_000_000,
                end_time_unix_nano=now,
            )
            span.attributes.extend(
                [
                    _attribute("gen_ai.operation.name", "chat"),
                    _attribute("gen_ai.provider.name", "openai"),
                    _attribute("gen_ai.request.model", "gpt-4o-mini"),
                    _attribute("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
                    _attribute("gen_ai.response.id", f"chatcmpl-{number}-{index}"),
                    _attribute("gen_ai.usage.input_tokens", 512 + index),
                    _attribute("gen_ai.usage.output_tokens", 96),
                    _attribute("server.address", "api.openai.com"),
                ]
            )
        bodies.append(request.SerializeToString())
    return bodies


def post_requests(
    target: str, protocol: str, seconds: float, clients: int, out: Queue[tuple[int, float]]
) -> None:
    """Child process: `clients` threads exporting for `seconds`; (spans acknowledged, time)."""
    bodies = request_bodies(64)
    done = [0] * clients
    started = time.monotonic()

    def client(slot: int) -> None:
        metadata = (("authorization", f"Bearer {KEY}"),)
        n = slot
        if protocol == "grpc":
            with grpc.insecure_channel(target) as channel:
                export: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(TRACES)
                while time.monotonic() - started < seconds:
                    export(bodies[n % len(bodies)], metadata=metadata, timeout=60)
                    done[slot] += SPANS_PER_REQUEST
                    n += clients
            return
        headers = {"authorization": f"Bearer {KEY}", "content-type": "application/x-protobuf"}
        with httpx.Client(base_url=target, headers=headers, timeout=60) as http:
            while time.monotonic() - started < seconds:
                answer = http.post("/v1/traces", content=bodies[n % len(bodies)])
                answer.raise_for_status()
                done[slot] += SPANS_PER_REQUEST
                n += clients

    threads = [Thread(target=client, args=(slot,)) for slot in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((sum(done), time.monotonic() - started))


def bench(kafka: KafkaConfig, protocol: str, seconds: float, clients: int) -> dict[str, float]:
    port, grpc_port = free_port(), free_port()
    gateway = gateway_process(
        kafka,
        port=port,
        grpc_port=grpc_port,
        api_keys=f"bench-otlp:{hash_key(KEY)}",
        log_path=Path(tempfile.mkdtemp(prefix="ms-bench-otlp-")) / "gateway.log",
        env={"MS_GATEWAY_RATE_LIMIT": "10000000/second"},
    )
    target = f"127.0.0.1:{grpc_port}" if protocol == "grpc" else f"http://127.0.0.1:{port}"
    try:
        queue: Queue[tuple[int, float]] = multiprocessing.Queue()
        loader = multiprocessing.Process(
            target=post_requests, args=(target, protocol, seconds, clients, queue)
        )
        cpu_before = cpu_seconds(gateway.pid)
        loader.start()
        spans, elapsed = queue.get()
        loader.join()
        cpu = cpu_seconds(gateway.pid) - cpu_before
        rss = peak_rss_mb(gateway.pid)
    finally:
        gateway.stop()
    return {
        "rate": spans / elapsed,
        "spans": spans,
        "cores": cpu / elapsed,
        "us_per_span": cpu / max(spans, 1) * 1e6,
        "rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    kafka = benchmark_kafka()
    for protocol in ("grpc", "http"):
        result = bench(kafka, protocol, args.seconds, args.clients)
        print(
            f"OTLP traces over {protocol}, requests of {SPANS_PER_REQUEST} GenAI spans from"
            f" {args.clients} connections: {result['rate']:,.0f} spans/s per gateway process"
            f" ({result['spans']:,.0f} acknowledged); the gateway used {result['cores']:.2f}"
            f" cores, {result['us_per_span']:.1f} CPU µs/span, peak RSS {result['rss_mb']:,.0f} MB"
        )


if __name__ == "__main__":
    main()

"""Producer benchmark: SDK cost per log call, SDK events/s into Kafka, gateway events/s.

Against the local Apache Kafka broker (started if needed) or MS_KAFKA_BOOTSTRAP_SERVERS.
The gateway runs as its own process; a separate load process posts batches of 500.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import time
from multiprocessing import Queue
from pathlib import Path

import httpx
import orjson

from benchmarks.broker import benchmark_kafka
from benchmarks.proc import cpu_seconds, peak_rss_mb
from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig
from meterstream_sdk import AsyncClient, Client, SdkConfig

KEY = "bench-key"
WARM_UP_CALLS = 50_000


def log_calls(client: Client, calls: int) -> list[int]:
    """ns per log_completion call on this thread."""
    timings = []
    clock = time.perf_counter_ns
    for i in range(calls):
        before = clock()
        client.log_completion(
            model="gpt-4o-mini",
            latency_ms=812.5,
            ttft_ms=120.0,
            input_tokens=512 + i % 100,
            output_tokens=96,
            provider="openai",
        )
        timings.append(clock() - before)
    return timings


def bench_sdk(kafka: KafkaConfig, calls: int) -> dict[str, float]:
    config = SdkConfig(max_buffer_bytes=512 * 1024 * 1024, flush_bytes=8 * 1024 * 1024)
    client = Client(project="bench-sdk", kafka=kafka, config=config)
    # Warm up as a running service is: the connection made, the broker's code compiled.
    log_calls(client, WARM_UP_CALLS)
    client.flush(timeout=300)
    warm = client.counters["delivered"]
    started = time.perf_counter()
    timings = log_calls(client, calls)
    logged = time.perf_counter() - started
    client.flush(timeout=300)
    delivered_s = time.perf_counter() - started
    counters = client.counters
    counters["delivered"] -= warm
    client.close()
    flush_rate = asyncio.run(delivery_alone(kafka, config, calls))
    timings.sort()
    return {
        "p50_us": timings[len(timings) // 2] / 1000,
        "p99_us": timings[int(len(timings) * 0.99)] / 1000,
        "mean_us": statistics.fmean(timings) / 1000,
        "log_rate": calls / logged,
        "delivered_rate": counters["delivered"] / delivered_s,
        "delivered": counters["delivered"],
        "dropped": counters["dropped"],
        "rss_mb": peak_rss_mb(),
        "flush_rate": flush_rate,
    }


async def delivery_alone(kafka: KafkaConfig, config: SdkConfig, calls: int) -> float:
    """events/s of delivery by itself: log before the client starts, then time the flush."""
    client = AsyncClient(project="bench-sdk", kafka=kafka, config=config)
    for i in range(calls):
        client.log_completion(model=f"model-{i % 3}", latency_ms=812.5, input_tokens=512)
    await client.start()
    started = time.perf_counter()
    await client.flush()
    rate = client.counters["delivered"] / (time.perf_counter() - started)
    await client.close()
    return rate


def post_batches(
    url: str, body: bytes, seconds: float, concurrency: int, out: Queue[tuple[int, int, float]]
) -> None:
    async def worker(client: httpx.AsyncClient, deadline: float, counts: list[int]) -> None:
        while time.monotonic() < deadline:
            response = await client.post("/v1/events", content=body)
            if response.status_code == 200:
                counts[0] += response.json()["accepted"]
            else:
                counts[1] += 1

    async def run() -> None:
        headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/x-ndjson"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:
            counts = [0, 0]
            started = time.monotonic()
            await asyncio.gather(
                *(worker(client, started + seconds, counts) for _ in range(concurrency))
            )
            out.put((counts[0], counts[1], time.monotonic() - started))

    asyncio.run(run())


def bench_gateway(kafka: KafkaConfig, seconds: float, clients: int) -> dict[str, float]:
    port = free_port()
    gateway = gateway_process(
        kafka,
        port=port,
        api_keys=f"bench-gw:{hash_key(KEY)}",
        log_path=Path(tempfile.mkdtemp(prefix="ms-bench-gw-")) / "gateway.log",
        env={"MS_GATEWAY_RATE_LIMIT": "10000000/second"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # A complete event, as the SDK's HTTP transport sends it (ids and times included).
        line = orjson.dumps(
            {
                "event_id": "0b6d3c1e-8f4a-4d1e-9a53-1f2e3d4c5b6a",
                "completion_id": "cmpl-0b6d3c1e8f4a",
                "kind": "completion",
                "model": "gpt-4o-mini",
                "provider": "openai",
                "started_at": "2026-11-20T10:00:00Z",
                "time": "2026-11-20T10:00:01Z",
                "ttft_ms": 120.0,
                "latency_ms": 812.5,
                "input_tokens": 512,
                "output_tokens": 96,
                "labels": {"route": "/chat"},
            }
        )
        body = b"\n".join([line] * 500)
        queue: Queue[tuple[int, int, float]] = multiprocessing.Queue()
        loader = multiprocessing.Process(
            target=post_batches, args=(url, body, seconds, clients, queue)
        )
        cpu_before = cpu_seconds(gateway.pid)
        loader.start()
        assert loader.pid is not None
        accepted, failed, elapsed = queue.get()
        loader_cores = cpu_seconds(loader.pid) / elapsed
        loader.join()
        cores = (cpu_seconds(gateway.pid) - cpu_before) / elapsed
        rss = peak_rss_mb(gateway.pid)
    finally:
        gateway.stop()
    return {
        "rate": accepted / elapsed,
        "accepted": accepted,
        "failed_requests": failed,
        "rss_mb": rss,
        "cores": cores,
        "loader_cores": loader_cores,
        "us_per_event_cpu": cores * elapsed / max(accepted, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300_000)
    parser.add_argument("--gateway-seconds", type=float, default=10.0)
    parser.add_argument("--gateway-clients", type=int, default=8)
    args = parser.parse_args()
    kafka = benchmark_kafka()
    sdk = bench_sdk(kafka, args.calls)
    print(
        f"SDK log_completion on the caller's thread: p50 {sdk['p50_us']:.2f} µs,"
        f" p99 {sdk['p99_us']:.2f} µs, mean {sdk['mean_us']:.2f} µs"
        f" ({sdk['log_rate']:,.0f} calls/s; {args.calls:,} calls timed,"
        f" after {WARM_UP_CALLS:,} to warm up)"
    )
    print(
        f"SDK into Kafka (acks=all, envelopes of 500): {sdk['delivered_rate']:,.0f} events/s"
        f" ({sdk['delivered']:,} delivered, {sdk['dropped']:,} dropped),"
        f" peak RSS {sdk['rss_mb']:,.0f} MB"
    )
    print(
        f"SDK delivery alone (buffer filled first, then flushed): {sdk['flush_rate']:,.0f} events/s"
    )
    gateway = bench_gateway(kafka, args.gateway_seconds, args.gateway_clients)
    print(
        f"gateway /v1/events, batches of 500 from {args.gateway_clients} connections:"
        f" {gateway['rate']:,.0f} events/s per process ({gateway['accepted']:,} accepted,"
        f" {gateway['failed_requests']} failed requests), peak RSS {gateway['rss_mb']:,.0f} MB;"
        f" it used {gateway['cores']:.2f} cores, {gateway['us_per_event_cpu']:.1f} CPU µs/event"
        f" (the posting process {gateway['loader_cores']:.2f} cores)"
    )


if __name__ == "__main__":
    main()

"""The end-to-end benchmark's peer: quixstreams computing the per-(project, model) 1-minute
rollup meterstream's first phase computes (count, errors by status, input/output/cached
tokens, cost from list prices, latency and TTFT sketch bins with the same log index), with
event time, a 10 s grace period and its default RocksDB state with changelogs.

`uv run --project benchmarks/peer python benchmarks/peer/quix_rollup.py BOOTSTRAP GROUP
PROJECT EVENTS PRICES_JSON`: reads the raw completions topic from the group's committed
offsets, aggregates the completions of PROJECT and prints `peer: N events in S s` once it
has aggregated EVENTS of them (S from its first message to that event, and the time from
the 10th to the 90th percent of them, clear of start-up), then stops.
PRICES_JSON maps "provider/model" to [prompt, cached prompt, completion] USD per million.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
import time
from datetime import datetime, timedelta
from typing import Any

import orjson
from quixstreams import Application

COMPLETIONS = "meterstream.raw.completions"
LOG_GAMMA = math.log(1.01 / 0.99)  # meterstream's sketch: relative accuracy 1%
ZERO_BIN, MIN_INDEXABLE = -(2**31), 1e-9


def sketch_bin(value: float) -> str:
    return str(ZERO_BIN if value < MIN_INDEXABLE else math.ceil(math.log(value) / LOG_GAMMA))


def main() -> None:
    bootstrap, group, project, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    prices: dict[str, list[float]] = json.loads(sys.argv[5])
    seen = {"events": 0, "first": 0.0, "tenth": 0.0, "nine_tenths": 0.0}
    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=tempfile.mkdtemp(prefix="ms-bench-quix-"),
        commit_interval=1.0,
    )
    source = app.topic(COMPLETIONS, key_deserializer="bytes", value_deserializer="bytes")
    sink = app.topic(f"bench-peer-{group}", key_serializer="bytes", value_serializer="json")

    def calls(value: bytes) -> list[dict[str, Any]]:
        seen["first"] = seen["first"] or time.perf_counter()
        records = [orjson.loads(line) for line in value.split(b"\n") if line.strip()]
        return [r for r in records if r["project"] == project]

    def event_ms(value: dict[str, Any], key: Any, timestamp: int, headers: Any) -> int:
        return int(datetime.fromisoformat(value["time"]).timestamp() * 1000)

    def start(value: dict[str, Any]) -> dict[str, Any]:
        empty = {"count": 0, "errors": {}, "input": 0, "output": 0, "cached": 0, "cost": 0.0,
                 "latency": {}, "ttft": {}}  # fmt: skip
        return add(empty, value)

    def add(state: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
        state["count"] += 1
        status = value.get("status", "ok")
        if status != "ok":
            state["errors"][status] = state["errors"].get(status, 0) + 1
        prompt, output = value.get("input_tokens", 0), value.get("output_tokens", 0)
        cached = value.get("cached_tokens", 0)
        state["input"] += prompt
        state["output"] += output
        state["cached"] += cached
        price = prices.get(f"{value.get('provider') or ''}/{value['model']}")
        if price is not None:
            state["cost"] += (
                (prompt - cached) * price[0] + cached * price[1] + output * price[2]
            ) / 1_000_000
        latency = sketch_bin(float(value["latency_ms"]))
        state["latency"][latency] = state["latency"].get(latency, 0) + 1
        if value.get("ttft_ms") is not None:
            ttft = sketch_bin(float(value["ttft_ms"]))
            state["ttft"][ttft] = state["ttft"].get(ttft, 0) + 1
        seen["events"] += 1
        if seen["events"] == expected // 10:
            seen["tenth"] = time.perf_counter()
        if seen["events"] == expected * 9 // 10:
            seen["nine_tenths"] = time.perf_counter()
        if seen["events"] == expected:
            took = time.perf_counter() - seen["first"]
            middle = seen["nine_tenths"] - seen["tenth"]
            print(f"peer: {seen['events']} events in {took:.3f} s; 10-90%: {middle:.3f} s")
            sys.stdout.flush()
            app.stop()
        return state

    frame = app.dataframe(source)
    frame = frame.apply(calls, expand=True)
    frame = frame.set_timestamp(event_ms)
    frame = frame.tumbling_window(timedelta(minutes=1), grace_ms=timedelta(seconds=10))
    frame = frame.reduce(reducer=add, initializer=start).final()
    frame.to_topic(sink)
    print("peer ready", flush=True)
    app.run()


if __name__ == "__main__":
    main()

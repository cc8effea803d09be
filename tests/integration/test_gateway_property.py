"""A property of the whole path, through a real gateway process, broker, sink and
ClickHouse: completions generated over each field's accepted range (extreme times,
sizes, numbers, unicode) are acknowledged and stored exactly once, and a completion with
one field outside its range is refused with a reason naming that field."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterstream_cli.processes import free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_contracts.fields import (
    LATEST_TIME,
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_NAME_CHARS,
    MAX_TOKENS,
)
from meterstream_kafka import KafkaConfig
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY = "property-key"
NOW = datetime.now(UTC)
KEPT_FROM = NOW - timedelta(days=89)  # inside the 90 days the raw tables keep
TEXT = st.characters(blacklist_categories=("Cs", "Cc"))  # any unicode but surrogates, controls
NAMES = st.text(TEXT, min_size=1, max_size=MAX_NAME_CHARS)
TOKENS = st.integers(min_value=0, max_value=MAX_TOKENS)


@st.composite
def valid_completion(draw: st.DrawFn) -> dict[str, Any]:
    time = draw(st.datetimes(KEPT_FROM.replace(tzinfo=None), (LATEST_TIME - timedelta(seconds=1))
                             .replace(tzinfo=None), timezones=st.just(UTC)))  # fmt: skip
    latency = draw(st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False))
    ttft = draw(st.none() | st.floats(min_value=0, max_value=latency, allow_nan=False))
    inputs = draw(TOKENS)
    cached = draw(st.integers(min_value=0, max_value=inputs))
    outputs = draw(TOKENS)
    labels = draw(
        st.dictionaries(
            st.text(TEXT, min_size=1, max_size=MAX_LABEL_KEY_CHARS),
            st.text(TEXT, max_size=MAX_LABEL_VALUE_CHARS),
            max_size=MAX_LABELS,
        )
    )
    return {
        "kind": "completion",
        "time": time.isoformat(),
        "started_at": draw(st.sampled_from(["2000-01-01T00:00:00Z", time.isoformat()])),
        "model": draw(NAMES),
        "provider": draw(st.none() | NAMES),
        "latency_ms": latency,
        "ttft_ms": ttft,
        "input_tokens": inputs,
        "cached_tokens": cached,
        "output_tokens": outputs,
        "status": draw(st.sampled_from(["ok", "error", "timeout"])),
        "labels": labels,
    }


BREAKS: dict[str, Any] = {
    "time": st.sampled_from(["1999-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "9999-01-01T00:00:00Z",
                             (NOW - timedelta(days=91)).isoformat()]),
    "latency_ms": st.sampled_from([-1.0, -1e-9]),
    "input_tokens": st.sampled_from([-1, MAX_TOKENS + 1]),
    "model": st.sampled_from(["", "x" * (MAX_NAME_CHARS + 1), "a\x00b"]),
    "labels": st.just({f"k{i}": "v" for i in range(MAX_LABELS + 1)}),
    "status": st.just("exploded"),
}  # fmt: skip
"""Field → values outside what it accepts."""


@st.composite
def broken_completion(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event = draw(valid_completion())
    name = draw(st.sampled_from(sorted(BREAKS)))
    event[name] = draw(BREAKS[name])
    if name == "input_tokens":
        event["cached_tokens"] = 0
    return name, event


@dataclass
class Sent:
    acknowledged: set[str] = field(default_factory=set)
    refused: int = 0


def test_acknowledged_is_stored_exactly_once_and_refused_names_its_field(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, server_store: ServerStore
) -> None:
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    port = free_port()
    gateway = gateway_process(
        kafka_config, port=port, api_keys=f"{project_name}:{hash_key(KEY)}",
        log_path=tmp_path / "gateway.log",
    )  # fmt: skip
    sent = Sent()
    client = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    )

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
    @given(
        st.lists(valid_completion(), min_size=1, max_size=12),
        st.lists(broken_completion(), max_size=4),
    )
    def batch(valid: list[dict[str, Any]], broken: list[tuple[str, dict[str, Any]]]) -> None:
        items = [*valid, *(event for _, event in broken)]
        for event in items:  # hypothesis repeats examples: each send is an event of its own
            event["event_id"] = str(uuid.uuid4())
        answer = client.post("/v1/events", content=b"\n".join(orjson.dumps(e) for e in items))
        assert answer.status_code == 200, answer.text[:500]
        body = answer.json()
        assert body["accepted"] == len(valid), body
        reasons = {r["index"]: r["reason"] for r in body["rejected"]}
        for offset, (name, _) in enumerate(broken):
            reason = reasons[len(valid) + offset]
            assert reason.startswith(f"{name}:") or f"; {name}:" in reason, (name, reason)
        sent.acknowledged.update(event["event_id"] for event in valid)
        sent.refused += len(broken)

    try:
        batch()
        asyncio.run(harness.wait_caught_up(sink, within_s=180))
    finally:
        client.close()
        gateway.stop()
        sink.stop()
    rows = server_store.warehouse.query_rows(
        "SELECT toString(event_id) AS id, count() AS n FROM raw_completions FINAL"
        " WHERE project = {p:String} GROUP BY id",
        params={"p": project_name},
    )
    stored = {str(row["id"]): int(row["n"]) for row in rows}
    assert set(stored) == sent.acknowledged
    assert set(stored.values()) == {1}
    assert sent.refused > 0

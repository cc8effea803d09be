"""Every SDK call produces events that pass their contract; registry errors are clear. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import orjson
import pytest

from meterstream_contracts import Completion, InstrumentPoint, MetricKey, MetricValue
from meterstream_sdk import AsyncClient, InvalidValue, ProtectedKey, Table, UnknownKey, WrongKind
from meterstream_sdk.testing import RecordingTransport

Offline = tuple[AsyncClient, RecordingTransport]


async def test_every_call_kind_emits_valid_events(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    client.register_key("thumbs_up", kind="bool")
    completion_id = client.log_completion(
        model="gpt-4o-mini",
        latency_ms=120.0,
        ttft_ms=30.0,
        input_tokens=100,
        output_tokens=20,
        cached_tokens=50,
        labels={"route": "/chat"},
    )
    client.log_metric(True, completion_id, "thumbs_up")
    client.log_preference("overall", completion_id, "other-id")
    client.log_grader_score(
        completion_id=completion_id, grader_name="judge", key="helpfulness", value=0.8
    )
    run = client.init_run(name="grpo", recipe="grpo", config={"lr": 1e-5})
    run({"train/loss": 0.5, "samples": Table(columns=["a"], rows=[[1]])})
    run.track_api_cost(
        {"usage": {"prompt_tokens": 1000, "completion_tokens": 10}},
        source="judge",
        provider="openai",
        model_name="openai/gpt-4o",
    )
    run.track_gpu(30.0, price_per_hour_usd=2.0, gpu_type="H100", gpu_count=8)
    run.finish()
    client.register_metric("queue_depth", type="gauge")
    client.record_metric("queue_depth", 3.0, shard="a")
    await client._emitter.flush()
    kinds = sorted({event.kind for event in transport.events()})
    assert kinds == sorted(
        [
            "api_cost",
            "completion",
            "gpu_cost",
            "grader_score",
            "instrument_point",
            "metric_key",
            "metric_value",
            "preference",
            "training_run",
            "training_step",
        ]
    )
    (value,) = [e for e in transport.events() if isinstance(e, MetricValue)]
    assert value.value == 1.0
    await client._emitter.close()


async def test_envelopes_group_events_by_catalogue_key(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()
    for model in ("a", "b", "a", "a"):
        client.log_completion(model=model, latency_ms=1.0)
    await client._emitter.flush()
    keys = sorted(key for topic, key, _ in transport.sent if topic.endswith("completions"))
    assert keys == [b"unit/a", b"unit/b"]
    await client._emitter.close()


def test_registry_errors_name_the_key(offline: Offline) -> None:
    client, _ = offline
    with pytest.raises(UnknownKey, match="'rating' is not registered for project 'unit'"):
        client.log_metric(3.0, "c1", "rating")
    client.register_key("rating")
    client.register_key("liked", kind="bool")
    with pytest.raises(WrongKind, match="'liked' is a bool key"):
        client.log_metric(1.0, "c1", "liked")
    with pytest.raises(WrongKind, match="'rating' is a scalar key"):
        client.log_metric(True, "c1", "rating")
    with pytest.raises(InvalidValue, match="'rating': value must be finite"):
        client.log_metric(math.nan, "c1", "rating")


def test_system_and_grader_keys_are_protected(offline: Offline) -> None:
    client, _ = offline
    with pytest.raises(ProtectedKey, match="system key"):
        client.register_key("latency_ms")
    with pytest.raises(ProtectedKey, match="system key"):
        client.delete_key("ttft_ms")
    client.log_grader_score(completion_id="c", grader_name="j", key="helpfulness", value=0.5)
    with pytest.raises(ProtectedKey, match="grader key"):
        client.update_key("helpfulness", description="mine now")


def test_user_keys_can_be_listed_updated_and_deleted(offline: Offline) -> None:
    client, _ = offline
    client.register_key("rating", description="1-5 stars")
    client.update_key("rating", scoring_type="lower_is_better")
    info = client.get_key("rating")
    assert info is not None
    assert (info.scoring, info.description) == ("lower_is_better", "1-5 stars")
    assert [k.key for k in client.list_keys(category="user")] == ["rating"]
    assert "latency_ms" in [k.key for k in client.list_keys(category="system")]
    client.delete_key("rating")
    assert client.get_key("rating") is None


def test_bad_arguments_fail_before_anything_is_buffered(offline: Offline) -> None:
    client, _ = offline
    with pytest.raises(InvalidValue, match="latency_ms must be finite"):
        client.log_completion(model="m", latency_ms=-1.0)
    with pytest.raises(InvalidValue, match="ttft_ms must be within"):
        client.log_completion(model="m", latency_ms=10.0, ttft_ms=11.0)
    with pytest.raises(InvalidValue, match="project 'no spaces'"):
        client.log_completion(model="m", latency_ms=1.0, project="no spaces")
    with pytest.raises(InvalidValue, match="labels: at most 32"):
        client.log_completion(model="m", latency_ms=1.0, labels={str(i): "v" for i in range(33)})
    assert len(client._emitter.buffer) == 0


async def test_streaming_call_records_ttft_usage_and_default_instruments(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()

    def stream() -> Iterator[SimpleNamespace]:
        yield SimpleNamespace(choices=["He"], usage=None)
        yield SimpleNamespace(choices=["llo"], usage=None)
        yield SimpleNamespace(
            choices=[],
            usage=SimpleNamespace(
                prompt_tokens=40, completion_tokens=2, prompt_tokens_details=None
            ),
        )

    with client.completion(model="gpt-4o-mini", provider="openai") as call:
        chunks = list(call.stream(stream()))
    assert len(chunks) == 3
    await client._emitter.flush()
    (completion,) = [e for e in transport.events() if isinstance(e, Completion)]
    assert completion.streamed
    assert completion.ttft_ms is not None
    assert completion.ttft_ms <= completion.latency_ms
    assert (completion.input_tokens, completion.output_tokens) == (40, 2)
    names = {e.name for e in transport.events() if isinstance(e, InstrumentPoint)}
    assert {"input_tokens", "time_to_first_token", "prompt_throughput"} <= names
    await client._emitter.close()


async def test_a_failing_call_is_logged_with_its_error_and_reraised(offline: Offline) -> None:
    client, transport = offline
    await client._emitter.start()

    @client.track_completion(model="m")
    def broken() -> None:
        raise TimeoutError("upstream")

    with pytest.raises(TimeoutError):
        broken()
    await client._emitter.flush()
    (completion,) = [e for e in transport.events() if isinstance(e, Completion)]
    assert (completion.status, completion.error_type) == ("timeout", "TimeoutError")
    await client._emitter.close()


def test_metric_key_records_carry_category(offline: Offline) -> None:
    client, _ = offline
    client.register_key("rating")
    lines = [envelope.value() for envelope in client._emitter.buffer.take()]
    from meterstream_contracts import decode_envelope

    (key,) = decode_envelope(lines[0], kind="metric_key").events
    assert isinstance(key, MetricKey)
    assert key.category == "user"


def test_a_metric_value_line_names_its_category(offline: Offline) -> None:
    """The sink stores the SDK's (validated) lines as they are: a field left out takes the
    column's default, which for a metric value's category is '' and not the contract's."""
    client, _ = offline
    client.register_key("thumbs_up", kind="bool")
    client.log_metric(True, "c-1", "thumbs_up")
    lines = [envelope.value() for envelope in client._emitter.buffer.take()]
    (value,) = [orjson.loads(line) for line in lines if b'"metric_value"' in line]
    assert value["category"] == "user"


def test_a_completion_leaves_out_only_fields_at_their_contract_default(offline: Offline) -> None:
    client, _ = offline
    plain = client.log_completion(model="m", latency_ms=10.0)
    full = client.log_completion(
        model="m",
        latency_ms=10.0,
        status="error",
        error_type="RateLimitError",
        streamed=True,
        labels={"route": "/chat"},
    )
    from meterstream_contracts import decode_envelope

    (envelope,) = client._emitter.buffer.take()
    assert b'"error_type"' not in envelope.value().split(b"\n")[0]
    events = {
        e.completion_id: (e.error_type, e.streamed, e.labels)
        for e in decode_envelope(envelope.value(), kind="completion").events
        if isinstance(e, Completion)
    }
    assert events == {plain: (None, False, {}), full: ("RateLimitError", True, {"route": "/chat"})}


def test_a_start_time_the_store_cannot_keep_is_refused_naming_the_field(offline: Offline) -> None:
    client, _ = offline
    for when in (datetime(9999, 12, 31, tzinfo=UTC), datetime(1, 1, 1)):
        with pytest.raises(InvalidValue, match="started_at must be from 2000-01-01"):
            client.log_completion(model="m", latency_ms=1.0, started_at=when)
    client.log_completion(model="m", latency_ms=1.0, started_at=datetime(2026, 1, 1))

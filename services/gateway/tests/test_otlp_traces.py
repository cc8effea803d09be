"""OTLP spans → completions and grader scores by the GenAI conventions; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from meterstream_contracts import Completion, GraderScore
from meterstream_gateway.otlp_traces import call_ids, map_spans

START = 1_764_000_000_000_000_000
TRACE = bytes(range(16))


def attribute(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def span(number: int, attributes: dict[str, Any], *, ms: int = 1500, error: bool = False) -> Span:
    made = Span(
        trace_id=TRACE,
        span_id=number.to_bytes(8, "big"),
        name=f"span {number}",
        start_time_unix_nano=START,
        end_time_unix_nano=START + ms * 1_000_000,
        attributes=[attribute(k, v) for k, v in attributes.items()],
    )
    if error:
        made.status.code = Status.STATUS_CODE_ERROR
        made.status.message = "boom"
    return made


def request(*spans: Span, resource: dict[str, Any] | None = None) -> ExportTraceServiceRequest:
    made = ExportTraceServiceRequest()
    resource_spans = made.resource_spans.add()
    resource_spans.resource.attributes.extend(
        attribute(k, v) for k, v in (resource or {"service.name": "chat-api"}).items()
    )
    resource_spans.scope_spans.add().spans.extend(spans)
    return made


CHAT = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o",
    "gen_ai.response.model": "gpt-4o-2024-08-06",
    "gen_ai.usage.input_tokens": 1200,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1000,
    "gen_ai.usage.cache_creation.input_tokens": 100,
    "gen_ai.usage.reasoning.output_tokens": 120,
    "gen_ai.response.time_to_first_chunk": 0.25,
    "gen_ai.conversation.id": "conv-7",
    "gen_ai.request.stream": True,
    "http.url": "https://api.openai.com/v1/chat/completions",
}


def test_a_chat_span_becomes_a_completion_with_every_token_kind() -> None:
    mapped = map_spans(request(span(1, CHAT)), project="p")
    (call,) = mapped.events
    assert isinstance(call, Completion)
    assert (call.model, call.provider, call.status, call.streamed) == (
        "gpt-4o-2024-08-06",
        "openai",
        "ok",
        True,
    )
    assert (call.input_tokens, call.output_tokens) == (1200, 300)
    assert (call.cached_tokens, call.cache_creation_tokens, call.reasoning_tokens) == (
        1000,
        100,
        120,
    )
    assert (call.latency_ms, call.ttft_ms) == (1500.0, 250.0)
    assert call.labels == {
        "service.name": "chat-api",
        "operation": "chat",
        "conversation.id": "conv-7",
    }
    completion_id, event_id = call_ids(TRACE, (1).to_bytes(8, "big"))
    assert (call.completion_id, call.event_id) == (completion_id, UUID(event_id))
    assert call.started_at == datetime.fromtimestamp(START / 1e9, UTC)


def test_the_same_span_exported_again_has_the_same_ids() -> None:
    first = map_spans(request(span(1, CHAT)), project="p").events[0]
    again = map_spans(request(span(1, CHAT)), project="p").events[0]
    other = map_spans(request(span(2, CHAT)), project="p").events[0]
    assert first.event_id == again.event_id != other.event_id


def test_older_names_and_openinference_names_are_read() -> None:
    older = {
        "gen_ai.system": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4",
        "gen_ai.usage.prompt_tokens": 50,
        "gen_ai.usage.completion_tokens": 7,
    }
    openinference = {
        "openinference.span.kind": "LLM",
        "llm.model_name": "gpt-4o-mini",
        "llm.provider": "openai",
        "llm.token_count.prompt": 80,
        "llm.token_count.completion": 20,
        "llm.token_count.prompt_details.cache_read": 64,
    }
    calls = map_spans(request(span(1, older), span(2, openinference)), project="p").events
    assert [(c.model, c.provider, c.input_tokens, c.output_tokens) for c in calls] == [  # type: ignore[attr-defined]
        ("claude-sonnet-4", "anthropic", 50, 7),
        ("gpt-4o-mini", "openai", 80, 20),
    ]
    assert calls[1].cached_tokens == 64  # type: ignore[attr-defined]


def test_a_failed_call_keeps_its_error_type() -> None:
    failed = {**CHAT, "error.type": "openai.InternalServerError"}
    (call,) = map_spans(request(span(1, failed, error=True)), project="p").events
    assert (call.status, call.error_type) == ("error", "openai.InternalServerError")  # type: ignore[attr-defined]
    (bare,) = map_spans(request(span(2, CHAT, error=True)), project="p").events
    assert (bare.status, bare.error_type) == ("error", "boom")  # type: ignore[attr-defined]


def test_evaluation_events_become_grader_scores_of_the_call() -> None:
    evaluated = span(1, CHAT)
    event = evaluated.events.add(name="gen_ai.evaluation.result", time_unix_nano=START + 5)
    event.attributes.extend(
        [
            attribute("gen_ai.evaluation.name", "relevance"),
            attribute("gen_ai.evaluation.score.value", 0.75),
            attribute("gen_ai.evaluation.score.label", "pass"),
            attribute("gen_ai.evaluation.explanation", "on topic"),
        ]
    )
    call, score = map_spans(request(evaluated), project="p").events
    assert isinstance(score, GraderScore)
    assert (score.completion_id, score.key, score.value, score.passed, score.reason) == (
        call.completion_id,  # type: ignore[attr-defined]
        "relevance",
        0.75,
        True,
        "on topic",
    )


def test_other_spans_are_counted_not_kept_and_a_bad_one_spares_its_neighbours() -> None:
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"}
    http = {"http.request.method": "POST"}
    bad = {**CHAT, "gen_ai.usage.input_tokens": -5}
    mapped = map_spans(
        request(span(1, tool), span(2, http), span(3, bad), span(4, CHAT)), project="p"
    )
    assert (mapped.other_spans, mapped.calls, len(mapped.events)) == (2, 1, 1)
    (reason,) = mapped.rejected
    assert "gen_ai.usage.input_tokens" in reason
    assert "non-negative" in reason


def test_tokens_that_cannot_be_right_are_rejected_naming_the_field() -> None:
    mapped = map_spans(
        request(span(1, {**CHAT, "gen_ai.usage.reasoning.output_tokens": 301})), project="p"
    )
    assert mapped.events == []
    assert "reasoning_tokens" in mapped.rejected[0]


def test_a_count_that_is_not_a_finite_number_is_rejected_naming_the_field() -> None:
    for bad in (float("inf"), float("nan"), -1.0):
        attributes = {**CHAT, "gen_ai.usage.cache_creation.input_tokens": bad}
        mapped = map_spans(request(span(1, attributes)), project="p")
        assert mapped.events == []
        (reason,) = mapped.rejected
        assert "gen_ai.usage.cache_creation.input_tokens must be a non-negative number" in reason

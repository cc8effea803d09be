"""The fast path (meterstream_otlp_native, Rust) against the reference mapping (Python): every
span it maps must come out as the reference maps it, byte for byte once parsed; every span it
is unsure of goes to the reference; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meterstream_otlp_native import TraceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from meterstream_contracts import TOPICS, Completion
from meterstream_contracts.envelope import encode_event
from meterstream_contracts.fields import RetentionWindow
from meterstream_gateway import otlp_traces_native
from meterstream_gateway.otlp_ingest import export_traces
from meterstream_gateway.otlp_traces import EVALUATION_EVENT, READ, map_spans

NOW_NS = 1_764_000_000_000_000_000
COMPLETIONS = TOPICS.for_kind("completion")


def any_value(value: Any) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, list):
        return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))
    return AnyValue(string_value=value)


def pairs(attributes: list[tuple[str, Any]]) -> list[KeyValue]:
    return [KeyValue(key=key, value=any_value(value)) for key, value in attributes]


def one_span_request(
    attributes: list[tuple[str, Any]],
    *,
    resource: list[tuple[str, Any]] = (),  # type: ignore[assignment]
    start: int = NOW_NS - 800_000_000,
    end: int = NOW_NS,
    trace_id: bytes = bytes(range(16)),
    span_id: bytes = bytes(range(8)),
    status: tuple[int, str] = (0, ""),
    events: tuple[str, ...] = (),
) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(pairs(list(resource)))
    span = resource_spans.scope_spans.add().spans.add(
        trace_id=trace_id,
        span_id=span_id,
        name="chat",
        start_time_unix_nano=start,
        end_time_unix_nano=end,
        attributes=pairs(attributes),
        status=Status(code=status[0], message=status[1]),  # type: ignore[arg-type]
    )
    for name in events:
        event = span.events.add(name=name, time_unix_nano=end)
        event.attributes.extend(pairs([("gen_ai.evaluation.name", "tone")]))
        event.attributes.extend(pairs([("gen_ai.evaluation.score.value", 0.5)]))
    return request


def fast(request: ExportTraceServiceRequest, project: str = "p", oldest_us: int = 0) -> Any:
    parsed = TraceRequest.parse(request.SerializeToString())
    return parsed.map_calls(otlp_traces_native.RULES, project, oldest_us)


def assert_same_as_reference(request: ExportTraceServiceRequest, project: str = "p") -> str:
    """The fast path's outcome for a one-span request, checked against the reference."""
    lines, other, deferred = fast(request, project)
    reference = map_spans(request, project=project)
    if deferred:
        return "deferred"
    if other:
        assert (reference.other_spans, reference.events) == (1, [])
        return "other"
    ((key, line),) = lines
    (call,) = reference.events
    assert isinstance(call, Completion)
    assert orjson.loads(line) == orjson.loads(encode_event(call))
    assert key == COMPLETIONS.key_of(call)
    assert Completion.model_validate_json(line) == call
    return "call"


CHAT: list[tuple[str, Any]] = [
    ("gen_ai.operation.name", "chat"),
    ("gen_ai.provider.name", "openai"),
    ("gen_ai.request.model", "gpt-4o"),
    ("gen_ai.response.model", "gpt-4o-2024-08-06"),
    ("gen_ai.usage.input_tokens", 1200),
    ("gen_ai.usage.output_tokens", 300),
    ("gen_ai.usage.cache_read.input_tokens", 1000),
    ("gen_ai.usage.cache_creation.input_tokens", 100),
    ("gen_ai.usage.reasoning.output_tokens", 120),
    ("gen_ai.response.time_to_first_chunk", 0.25),
    ("gen_ai.conversation.id", "conv-7"),
    ("gen_ai.request.stream", True),
    ("http.url", "https://api.openai.com/v1/chat/completions"),
]
RESOURCE = [("service.name", "chat-api"), ("deployment.environment.name", "prod")]


def test_the_spans_instrumentations_send_take_the_fast_path_and_match_the_reference() -> None:
    openinference = [
        ("openinference.span.kind", "llm"),
        ("llm.model_name", "claude-sonnet-4"),
        ("llm.provider", "anthropic"),
        ("llm.token_count.prompt", 900),
        ("llm.token_count.completion", 80),
        ("session.id", "s-1"),
    ]
    older: list[tuple[str, Any]] = [("gen_ai.system", "openai"), ("gen_ai.request.model", "gpt-4o")]
    older += [("gen_ai.usage.prompt_tokens", 10), ("gen_ai.usage.completion_tokens", 2)]
    failed = [*CHAT[:4], ("error.type", "RateLimitError")]
    long_values = [*CHAT[:4], ("error.type", "E" * 200), ("user.id", "ü" * 300)]
    for attributes, status in [
        (CHAT, (0, "")),
        (openinference, (0, "")),
        (older, (0, "")),
        (failed, (2, "429 Too Many Requests")),
        (CHAT[:4], (2, "")),
        (long_values, (2, "")),
        (CHAT[:4], (2, "🙂" * 130)),
    ]:
        request = one_span_request(attributes, resource=RESOURCE, status=status)
        assert assert_same_as_reference(request) == "call", attributes


def test_a_tool_span_is_counted_as_other() -> None:
    tool = [("gen_ai.operation.name", "execute_tool"), ("gen_ai.tool.name", "search")]
    assert assert_same_as_reference(one_span_request(tool)) == "other"


def test_what_the_reference_must_decide_is_deferred_to_it() -> None:
    cases = {
        "a negative count": [*CHAT[:4], ("gen_ai.usage.input_tokens", -1)],
        "a fractional count": [*CHAT[:4], ("gen_ai.usage.input_tokens", 12.0)],
        "a model that is a number": [("gen_ai.request.model", 7)],
        "a control character in the model": [("gen_ai.request.model", "gpt\x00")],
        "a label that is a number": [*CHAT[:4], ("session.id", 12)],
        "ttft past the latency": [*CHAT[:4], ("gen_ai.response.time_to_first_chunk", 5)],
        "cache reads past the input": [
            *CHAT[:4],
            ("gen_ai.usage.input_tokens", 10),
            ("gen_ai.usage.cache_read.input_tokens", 8),
            ("gen_ai.usage.cache_creation.input_tokens", 5),
        ],
    }
    for case, attributes in cases.items():
        assert assert_same_as_reference(one_span_request(attributes)) == "deferred", case
    for case, request in {
        "evaluation events": one_span_request(CHAT, events=(EVALUATION_EVENT,)),
        "a short trace id": one_span_request(CHAT, trace_id=b"\x01" * 8),
        "an end before its start": one_span_request(CHAT, start=NOW_NS + 1, end=NOW_NS),
        "a time before 2000": one_span_request(CHAT, start=0, end=10**18),
    }.items():
        assert assert_same_as_reference(request) == "deferred", case
    assert fast(one_span_request(CHAT), project="no spaces allowed")[2] == [(0, 0, 0)]


def test_an_export_mixing_both_paths_keeps_every_span_and_says_why_one_was_refused() -> None:
    request = one_span_request(CHAT, resource=RESOURCE)
    spans = request.resource_spans[0].scope_spans[0].spans
    bad = spans.add()
    bad.CopyFrom(spans[0])
    bad.span_id = (2).to_bytes(8, "big")
    bad.attributes.extend(pairs([("gen_ai.usage.output_tokens", -5)]))
    scored = spans.add()
    scored.CopyFrom(spans[0])
    scored.span_id = (3).to_bytes(8, "big")
    scored.events.add(name=EVALUATION_EVENT, time_unix_nano=NOW_NS).attributes.extend(
        pairs([("gen_ai.evaluation.name", "tone"), ("gen_ai.evaluation.score.value", 0.5)])
    )
    body = request.SerializeToString()
    exported = export_traces(body, as_json=False, project="p", max_spans=10, admit=lambda n: None)
    assert exported.spans == {"call": 2, "other": 0, "rejected": 1}
    assert len(exported.completion_lines) == 1  # the plain one, by the fast path
    assert [event.kind for event in exported.events] == ["completion", "grader_score"]
    assert "gen_ai.usage.output_tokens must be a non-negative number, got -5" in exported.message
    reference = map_spans(request, project="p")
    assert exported.message == "; ".join(reference.rejected)


def test_a_span_older_than_the_raw_tables_keep_is_refused_with_the_reason() -> None:
    old = int((datetime.now(UTC) - timedelta(days=10)).timestamp() * 1e9)
    body = one_span_request(CHAT, start=old - 10**9, end=old).SerializeToString()
    exported = export_traces(
        body,
        as_json=False,
        project="p",
        max_spans=10,
        admit=lambda n: None,
        kept=RetentionWindow.ending_now(7),
    )
    assert (list(exported.completion_lines), exported.events, exported.rejected) == ([], [], 1)
    assert "older than the raw tables keep (7 days" in exported.message


VALUES = st.one_of(
    st.sampled_from(["", "gpt-4o", "chat", "llm", "LLM", "execute_tool", "é" * 300, "a\x01b"]),
    st.text(max_size=12),
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=0, max_value=2**41),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.just([1, 2]),
)
KEYS = st.sampled_from(sorted(READ | {"http.url", "gen_ai.tool.name"}))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attributes=st.lists(st.tuples(KEYS, VALUES), max_size=14),
    resource=st.lists(st.tuples(KEYS, VALUES), max_size=4),
    latency_ns=st.integers(min_value=-(10**9), max_value=10**12),
    status=st.tuples(st.integers(min_value=0, max_value=2), st.sampled_from(["", "boom"])),
    model=st.sampled_from([None, "gpt-4o-mini", "m" * 257]),
)
def test_any_span_the_fast_path_maps_the_reference_maps_the_same(
    attributes: list[tuple[str, Any]],
    resource: list[tuple[str, Any]],
    latency_ns: int,
    status: tuple[int, str],
    model: str | None,
) -> None:
    if model is not None:
        attributes = [("gen_ai.request.model", model), *attributes]
    request = one_span_request(
        attributes,
        resource=resource,
        start=NOW_NS - max(latency_ns, 0),
        end=NOW_NS - max(-latency_ns, 0),
        status=status,
    )
    assert_same_as_reference(request)


def _plausible(key: str) -> st.SearchStrategy[Any]:
    """Values of the type an instrumentation sends for `key` (mostly), so that most spans
    are model calls the fast path maps."""
    if "token" in key:
        return st.integers(min_value=0, max_value=5000)
    if key == "gen_ai.response.time_to_first_chunk":
        return st.floats(min_value=0, max_value=2.0)
    if key == "gen_ai.request.stream":
        return st.booleans()
    if key == "gen_ai.operation.name":
        return st.sampled_from(["chat", "embeddings", "text_completion"])
    if key == "openinference.span.kind":
        return st.sampled_from(["LLM", "llm", "Embedding"])
    long = st.sampled_from(["x" * 300, "é" * 257, "🙂" * 260])
    return st.one_of(st.text(st.characters(codec="utf-8"), max_size=40), long)


PLAUSIBLE = st.lists(KEYS.flatmap(lambda key: st.tuples(st.just(key), _plausible(key))))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    attributes=PLAUSIBLE,
    resource=PLAUSIBLE,
    latency_ns=st.integers(min_value=0, max_value=10**11),
    start_ns=st.integers(min_value=946_684_800 * 10**9, max_value=4_102_444_700 * 10**9),
    status=st.tuples(
        st.integers(min_value=0, max_value=2), st.one_of(st.text(max_size=9), st.just("s" * 129))
    ),
)
def test_any_plausible_model_call_maps_as_the_reference_maps_it(
    attributes: list[tuple[str, Any]],
    resource: list[tuple[str, Any]],
    latency_ns: int,
    start_ns: int,
    status: tuple[int, str],
) -> None:
    request = one_span_request(
        [("gen_ai.request.model", "gpt-4o-mini"), *attributes],
        resource=resource,
        start=start_ns,
        end=start_ns + latency_ns,
        status=status,
    )
    assert_same_as_reference(request)

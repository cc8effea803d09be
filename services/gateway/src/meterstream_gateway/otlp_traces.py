"""OTLP spans → completions and grader scores, by the GenAI semantic conventions. Pure.

A span is a model call when it names a model (`gen_ai.request.model`,
`gen_ai.response.model`, OpenInference's `llm.model_name`) and its operation, if
it says one, is a model operation (chat, text completion, content generation,
embeddings). It becomes one completion: model (the response's, else the
request's), provider (`gen_ai.provider.name`, else the older `gen_ai.system`),
tokens (current names, the older prompt/completion ones, OpenInference's
`llm.token_count.*`), latency from the span's duration, status and error type from
the span's status and `error.type`, and labels from an allow-list. Its ids derive
from the trace and span ids, so an exporter that retries never counts a call twice.
Evaluation results on the span (the `gen_ai.evaluation.result` event) become grader
scores of that completion. Other spans (tools, agents, HTTP) are counted, not kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status
from pydantic import ValidationError

from meterstream_contracts import Completion, Event, GraderScore
from meterstream_contracts.errors import describe_validation_error
from meterstream_contracts.fields import MAX_ERROR_TYPE_CHARS, MAX_LABEL_VALUE_CHARS
from meterstream_pricing.readers import SPAN_USAGE_ATTRIBUTES, usage_from_span

MODEL_OPERATIONS = frozenset(
    {"chat", "text_completion", "generate_content", "embeddings", "completion", "responses"}
)
MODEL_SPAN_KINDS = ("LLM", "EMBEDDING")
"""OpenInference span kinds of model calls."""
MODEL = (
    "gen_ai.response.model",
    "gen_ai.request.model",
    "llm.response.model_name",
    "llm.model_name",
    "llm.request.model_name",
)
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
TIME_TO_FIRST_TOKEN_S = ("gen_ai.response.time_to_first_chunk",)
"""Seconds, on streamed calls (the conventions' span attribute)."""
LABELS = {
    "service.name": "service.name",
    "deployment.environment.name": "deployment.environment",
    "deployment.environment": "deployment.environment",
    "gen_ai.operation.name": "operation",
    "gen_ai.conversation.id": "conversation.id",
    "session.id": "session.id",
    "user.id": "user.id",
    "gen_ai.agent.name": "agent.name",
}
"""Attribute (of the span or its resource) → label; nothing else becomes a label."""
EVALUATION_EVENT = "gen_ai.evaluation.result"
READ = frozenset(
    {
        *MODEL,
        *PROVIDER,
        *SPAN_USAGE_ATTRIBUTES,
        *TIME_TO_FIRST_TOKEN_S,
        *LABELS,
        "gen_ai.operation.name",
        "openinference.span.kind",
        "error.type",
        "gen_ai.request.stream",
    }
)
"""Every span attribute the mapping reads."""


@dataclass(slots=True)
class MappedSpans:
    events: list[Event] = field(default_factory=list)
    lines: list[tuple[bytes, bytes]] = field(default_factory=list)
    """Completions the fast path (meterstream_otlp_native) encoded: (message key, line)."""
    calls: int = 0
    scores: int = 0
    other_spans: int = 0
    rejected: list[str] = field(default_factory=list)


def value_of(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind in (None, "array_value", "kvlist_value", "bytes_value"):
        return None
    return getattr(value, kind)


def attributes_of(pairs: Iterable[Any], wanted: frozenset[str] | None = None) -> dict[str, Any]:
    """Attribute values by key; only the `wanted` keys (decoding a value costs a microsecond,
    and a span carries many the mapping never reads)."""
    if wanted is None:
        return {pair.key: value_of(pair.value) for pair in pairs}
    return {pair.key: value_of(pair.value) for pair in pairs if pair.key in wanted}


def _first(attributes: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None and value != "":
            return value
    return None


def is_model_call(attributes: Mapping[str, Any]) -> bool:
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None and operation not in MODEL_OPERATIONS:
        return False
    kind = attributes.get("openinference.span.kind")
    if kind is not None and str(kind).upper() not in MODEL_SPAN_KINDS:
        return False
    return _first(attributes, MODEL) is not None


def stable_uuid(*parts: bytes) -> str:
    """A name-based UUID: the same parts, the same id (an exporter's retry stores once)."""
    digest = bytearray(hashlib.blake2b(b"\x00".join(parts), digest_size=16).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return digest.hex()  # the contract parses it (in pydantic-core, cheaper than UUID())


def call_ids(trace_id: bytes, span_id: bytes) -> tuple[str, str]:
    """(completion id, event id), the same for every export of the same span."""
    return f"otel-{trace_id.hex()}-{span_id.hex()}", stable_uuid(trace_id, span_id)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _time(nanos: int) -> datetime:
    """The UTC time of Unix nanoseconds, to the microsecond (truncated, exactly: no float)."""
    return _EPOCH + timedelta(microseconds=nanos // 1000)


def labels_of(attributes: Mapping[str, Any]) -> dict[str, str]:
    """The allow-listed attributes as labels, within the label caps."""
    labels: dict[str, str] = {}
    for attribute, label in LABELS.items():
        value = attributes.get(attribute)
        if value is not None and value != "":
            labels[label] = str(value)[:MAX_LABEL_VALUE_CHARS]
    return labels


def completion_record(
    span: Span, attributes: Mapping[str, Any], resource_labels: dict[str, str], project: str
) -> dict[str, Any]:
    """The completion a model-call span describes (raises ValueError on a bad count)."""
    completion_id, event_id = call_ids(span.trace_id, span.span_id)
    usage = usage_from_span(attributes)
    latency_ms = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6
    ttft = _first(attributes, TIME_TO_FIRST_TOKEN_S)
    failed = span.status.code == Status.STATUS_CODE_ERROR
    error_type = attributes.get("error.type") or (span.status.message if failed else None)
    return {
        "kind": "completion",
        "event_id": event_id,
        "project": project,
        "time": _time(span.end_time_unix_nano),
        "completion_id": completion_id,
        "model": str(_first(attributes, MODEL)),
        "provider": _first(attributes, PROVIDER),
        "started_at": _time(span.start_time_unix_nano),
        "latency_ms": latency_ms,
        "ttft_ms": float(ttft) * 1000 if isinstance(ttft, int | float) else None,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_input_tokens,
        "cache_creation_tokens": usage.cache_creation_input_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "status": "error" if failed or error_type else "ok",
        "error_type": str(error_type)[:MAX_ERROR_TYPE_CHARS]
        if error_type
        else ("error" if failed else None),
        "streamed": bool(attributes.get("gen_ai.request.stream", False)),
        "labels": {**resource_labels, **labels_of(attributes)},
    }


def score_records(span: Span, completion_id: str, project: str) -> list[dict[str, Any]]:
    """Grader scores from the span's evaluation events (those with a numeric score)."""
    records: list[dict[str, Any]] = []
    if not span.events:
        return records
    for event in span.events:
        if event.name != EVALUATION_EVENT:
            continue
        attributes = attributes_of(event.attributes)
        score = attributes.get("gen_ai.evaluation.score.value")
        name = attributes.get("gen_ai.evaluation.name")
        if name is None or isinstance(score, bool) or not isinstance(score, int | float):
            continue
        label = attributes.get("gen_ai.evaluation.score.label")
        explanation = attributes.get("gen_ai.evaluation.explanation")
        records.append(
            {
                "kind": "grader_score",
                "project": project,
                "time": _time(event.time_unix_nano or span.end_time_unix_nano),
                "event_id": stable_uuid(
                    span.trace_id,
                    span.span_id,
                    str(name).encode(),
                    str(event.time_unix_nano).encode(),
                ),
                "completion_id": completion_id,
                "grader_name": str(name),
                "grader_type": "external",
                "key": str(name),
                "value": float(score),
                "passed": {"pass": True, "fail": False}.get(str(label).lower())
                if label is not None
                else None,
                "reason": str(explanation)[:4096] if explanation is not None else None,
            }
        )
    return records


def resource_labels(resource_spans: ResourceSpans) -> dict[str, str]:
    return labels_of(attributes_of(resource_spans.resource.attributes, READ))


def map_spans(request: ExportTraceServiceRequest, *, project: str) -> MappedSpans:
    mapped = MappedSpans()
    for resource_spans in request.resource_spans:
        resource = resource_labels(resource_spans)
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                map_span(span, resource, project, mapped)
    return mapped


def map_span(span: Span, resource: dict[str, str], project: str, mapped: MappedSpans) -> None:
    """One span into `mapped`: a completion (and its scores), a rejection, or counted."""
    attributes = attributes_of(span.attributes, READ)
    if not is_model_call(attributes):
        mapped.other_spans += 1
        return
    _map_call(span, attributes, resource, project, mapped)


def _map_call(
    span: Span,
    attributes: Mapping[str, Any],
    resource: dict[str, str],
    project: str,
    mapped: MappedSpans,
) -> None:
    where = f"span {span.span_id.hex() or '?'} ({span.name[:64]})"
    try:
        if len(span.trace_id) != 16 or len(span.span_id) != 8:
            raise ValueError("trace_id must be 16 bytes and span_id 8")
        record = completion_record(span, attributes, resource, project)
        call = Completion.model_validate(record)
    except ValueError as error:
        reason = (
            describe_validation_error(error) if isinstance(error, ValidationError) else str(error)
        )
        mapped.rejected.append(f"{where}: {reason}")
        return
    mapped.events.append(call)
    mapped.calls += 1
    for score in score_records(span, call.completion_id, project):
        try:
            mapped.events.append(GraderScore.model_validate(score))
            mapped.scores += 1
        except ValidationError as error:
            mapped.rejected.append(f"{where} evaluation: {describe_validation_error(error)}")

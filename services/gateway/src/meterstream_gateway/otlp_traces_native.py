"""The fast path for protobuf trace exports: `meterstream_otlp_native` (Rust) decodes the
request once and maps its plain GenAI model-call spans to completion lines; the spans it
defers (anything unusual: evaluation events, attributes of unexpected types, values the
contract refuses, times outside the raw tables' window) go through the reference mapping
in `otlp_traces`, which writes every refusal's reason. Both give the same completion for a
span the fast path maps; tests/…/test_otlp_traces_native.py holds them to it."""

from __future__ import annotations

from datetime import datetime

from meterstream_otlp_native import SpanRules, TraceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from meterstream_contracts.fields import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_ERROR_TYPE_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_NAME_CHARS,
    MAX_PROJECT_CHARS,
    MAX_TOKENS,
)
from meterstream_gateway import otlp_traces
from meterstream_pricing import readers


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


RULES = SpanRules(
    model=otlp_traces.MODEL,
    provider=otlp_traces.PROVIDER,
    input_tokens=readers.SPAN_INPUT_TOKENS,
    output_tokens=readers.SPAN_OUTPUT_TOKENS,
    cache_read_tokens=readers.SPAN_CACHE_READ_TOKENS,
    cache_creation_tokens=readers.SPAN_CACHE_CREATION_TOKENS,
    reasoning_tokens=readers.SPAN_REASONING_TOKENS,
    time_to_first_token_s=otlp_traces.TIME_TO_FIRST_TOKEN_S,
    labels=list(otlp_traces.LABELS.items()),
    model_operations=sorted(otlp_traces.MODEL_OPERATIONS),
    model_span_kinds=otlp_traces.MODEL_SPAN_KINDS,
    evaluation_event=otlp_traces.EVALUATION_EVENT,
    max_name_chars=MAX_NAME_CHARS,
    max_label_value_chars=MAX_LABEL_VALUE_CHARS,
    max_error_type_chars=MAX_ERROR_TYPE_CHARS,
    max_project_chars=MAX_PROJECT_CHARS,
    max_tokens=MAX_TOKENS,
    earliest_us=_us(EARLIEST_TIME),
    latest_us=_us(LATEST_TIME),
)


def parse(body: bytes) -> TraceRequest | None:
    """The decoded request, or None when the fast decoder refuses it (the reference decoder
    then says why, or reads what this one would not)."""
    try:
        return TraceRequest.parse(body)
    except ValueError:
        return None


def map_request(
    request: TraceRequest, body: bytes, *, project: str, oldest: datetime | None
) -> otlp_traces.MappedSpans:
    """Every span of `request` (decoded from `body`): the fast path's completions as lines,
    the deferred spans mapped by the reference, which decodes `body` only when there are any."""
    oldest_us = _us(oldest) if oldest is not None else _us(EARLIEST_TIME)
    lines, other, deferred = request.map_calls(RULES, project, oldest_us)
    mapped = otlp_traces.MappedSpans(lines=lines, calls=len(lines), other_spans=other)
    if not deferred:
        return mapped
    reference = ExportTraceServiceRequest()
    reference.ParseFromString(body)
    resources: dict[int, dict[str, str]] = {}
    for r, s, k in deferred:
        resource_spans = reference.resource_spans[r]
        if r not in resources:
            resources[r] = otlp_traces.resource_labels(resource_spans)
        span = resource_spans.scope_spans[s].spans[k]
        otlp_traces.map_span(span, resources[r], project, mapped)
    return mapped

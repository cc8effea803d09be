"""OTLP exports, whichever door they came in by (HTTP or gRPC): decode, cap, map, produce,
and the response with `partial_success` saying what was rejected and why."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from meterstream_contracts import Event
from meterstream_contracts.fields import RetentionWindow
from meterstream_gateway import otlp_traces_native
from meterstream_gateway.otlp import CumulativeToDelta, map_request
from meterstream_gateway.otlp_traces import map_spans
from meterstream_gateway.refusals import Refused

Signal = Literal["metrics", "traces"]
MAX_REASONS = 5
"""Rejection reasons quoted in `error_message` (the count covers them all)."""


@dataclass(frozen=True, slots=True)
class Exported:
    """What one export kept and what it rejected, and the response that says so."""

    events: Sequence[Event]
    rejected: int
    message: str
    response: Message
    spans: dict[str, int] | None = None
    """Traces only: spans per outcome (call, other, rejected)."""
    completion_lines: Sequence[tuple[bytes, bytes]] = ()
    """Traces only: completions already encoded, validated, by the fast path (key, line)."""


def decode(body: bytes, message: Message, *, as_json: bool, what: str) -> None:
    """Parse `body` into `message`; a body that is not one is a refusal naming the signal."""
    try:
        if as_json:
            json_format.Parse(body, message, ignore_unknown_fields=True)
        else:
            message.ParseFromString(body)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError) as error:
        raise Refused("bad_body", f"not an OTLP {what} request: {error}") from error


Admit = Callable[[int], None]
"""Charges the caller's rate limit for this many items, or raises Refused."""


def _check_count(count: int, limit: int, what: str, admit: Admit) -> None:
    """Before any mapping: the item cap, then the rate limit for every item sent."""
    if count > limit:
        raise Refused("too_many_items", f"at most {limit} {what} per request, got {count}")
    admit(count)


def _kept(
    events: Sequence[Event], rejected: list[str], kept: RetentionWindow | None
) -> list[Event]:
    """The events the raw tables keep; the reasons for the others appended to `rejected`."""
    if kept is None:
        return list(events)
    fresh: list[Event] = []
    for event in events:
        refusal = kept.refusal(event.time)
        if refusal is None:
            fresh.append(event)
        else:
            rejected.append(f"{getattr(event, 'name', event.kind)}: {refusal}")
    return fresh


def _message(reasons: list[str]) -> str:
    shown = "; ".join(reasons[:MAX_REASONS])
    more = len(reasons) - MAX_REASONS
    return shown + (f"; and {more} more" if more > 0 else "")


def export_metrics(
    body: bytes,
    *,
    as_json: bool,
    project: str,
    state: CumulativeToDelta,
    max_points: int,
    admit: Admit,
    kept: RetentionWindow | None = None,
) -> Exported:
    request = ExportMetricsServiceRequest()
    decode(body, request, as_json=as_json, what="metrics")
    points = 0
    for resource in request.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                kind = metric.WhichOneof("data")
                points += len(getattr(metric, kind).data_points) if kind is not None else 0
    _check_count(points, max_points, "data points", admit)
    mapped = map_request(request, project=project, state=state)
    kept_points = _kept(mapped.points, mapped.rejected, kept)
    response = ExportMetricsServiceResponse()
    message = _message(mapped.rejected)
    if mapped.rejected:
        response.partial_success.rejected_data_points = len(mapped.rejected)
        response.partial_success.error_message = message
    return Exported(kept_points, len(mapped.rejected), message, response)


def export_traces(
    body: bytes,
    *,
    as_json: bool,
    project: str,
    max_spans: int,
    admit: Admit,
    kept: RetentionWindow | None = None,
) -> Exported:
    fast = None if as_json else otlp_traces_native.parse(body)
    if fast is not None:
        _check_count(fast.span_count, max_spans, "spans", admit)
        oldest = kept.oldest if kept is not None else None
        mapped = otlp_traces_native.map_request(fast, body, project=project, oldest=oldest)
    else:
        request = ExportTraceServiceRequest()
        decode(body, request, as_json=as_json, what="traces")
        spans = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        _check_count(spans, max_spans, "spans", admit)
        mapped = map_spans(request, project=project)
    events = _kept(mapped.events, mapped.rejected, kept)
    response = ExportTraceServiceResponse()
    message = _message(mapped.rejected)
    if mapped.rejected:
        response.partial_success.rejected_spans = len(mapped.rejected)
        response.partial_success.error_message = message
    outcomes = {"call": mapped.calls, "other": mapped.other_spans, "rejected": len(mapped.rejected)}
    return Exported(events, len(mapped.rejected), message, response, outcomes, mapped.lines)

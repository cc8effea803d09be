"""Raw messages → what the first, per-partition phase publishes. Pure.

One call per Kafka message: the envelope's events are read once and every
output of that message is named after it (`partition:offset`), so reprocessing
the message after a crash yields the same outputs, which replace themselves
downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel

from meterstream_contracts import (
    ApiCost,
    Completion,
    GpuCost,
    GraderScore,
    MessageOrigin,
    MetricValue,
    Preference,
    decode_envelope,
    envelope_as_array,
    split_envelope,
)
from meterstream_contracts.derived import CostEntry, FeedbackRollup, InferenceRollup
from meterstream_derivations.definitions import DefinitionSet
from meterstream_derivations.feedback import (
    Feedback,
    KeyInfo,
    Source,
    build_feedback_partials,
    trusted_feedback,
)
from meterstream_derivations.inference import (
    Call,
    Prices,
    build_partials_from_calls,
    build_partials_from_envelope,
    trusted_calls,
)
from meterstream_derivations.ledger import api_cost_entries, gpu_cost_entries
from meterstream_pricing import PricingRegistry


def slice_id(origin: MessageOrigin) -> str:
    return f"{origin.partition}:{origin.offset}"


def appended_at(origin: MessageOrigin) -> datetime:
    """When the message was appended: prices are those published by then."""
    return datetime.fromtimestamp(origin.timestamp_ms / 1000, UTC)


def _trusted_records(value: bytes) -> list[Any]:
    """The JSON values of an envelope's lines."""
    try:
        records: list[Any] = orjson.loads(envelope_as_array(value))
    except orjson.JSONDecodeError:
        return [orjson.loads(line) for line in split_envelope(value)]
    return records


def read_completions(
    value: bytes, *, origin: MessageOrigin, validated: bool
) -> tuple[list[Call], list[Completion] | None]:
    """The rollup calls of one message's completions, and the completions themselves
    when the contract had to read them (None on the trusted path).

    Envelopes marked validated were checked by their producer against the
    contract, so only the fields rollups use are decoded; anything else (or a
    marked envelope that does not hold what the mark promised) goes through
    the contract, and invalid events are skipped (the sink dead-letters them).
    """
    calls = trusted_calls(value) if validated else None
    if calls is not None:
        return calls, None
    events = _careful_completions(value, origin)
    return [Call.of(event) for event in events], events


def calls_of(value: bytes, *, origin: MessageOrigin, validated: bool) -> list[Call]:
    return read_completions(value, origin=origin, validated=validated)[0]


def _careful_completions(value: bytes, origin: MessageOrigin) -> list[Completion]:
    decoded = decode_envelope(value, kind="completion", origin=origin)
    return [event for event in decoded.events if isinstance(event, Completion)]


@dataclass(frozen=True, slots=True)
class CompletionOutputs:
    partials: list[InferenceRollup]
    ledger: list[CostEntry]
    metric_values: list[dict[str, Any]]
    """Results of the metric definitions that apply (category "custom")."""


def completion_outputs(
    value: bytes,
    *,
    origin: MessageOrigin,
    validated: bool,
    windows: tuple[int, ...],
    pricing: PricingRegistry,
    definitions: DefinitionSet | None = None,
) -> CompletionOutputs:
    partial_id, as_of = slice_id(origin), appended_at(origin)
    result = None
    if validated:
        result = build_partials_from_envelope(
            value, window_seconds=windows, partial_id=partial_id, pricing=pricing, as_of=as_of
        )
    events: list[Completion] | None = None
    if result is None:
        calls, events = read_completions(value, origin=origin, validated=validated)
        result = build_partials_from_calls(
            calls, window_seconds=windows, partial_id=partial_id, pricing=pricing, as_of=as_of
        )
    results = definition_results(
        definitions, "completion", value, events,
        projects={partial.project for partial in result.partials},
        event_id=lambda line: f"{partial_id}:{line}",
    )  # fmt: skip
    return CompletionOutputs(result.partials, result.ledger, results)


def definition_results(
    definitions: DefinitionSet | None,
    kind: str,
    value: bytes,
    events: Sequence[BaseModel] | None,
    *,
    projects: set[str],
    event_id: Callable[[int], str],
) -> list[dict[str, Any]]:
    """The results of the metric definitions that apply to one message's events: whole
    records from the same path the partials came from (`events` when the contract read
    them, the trusted JSON otherwise); `event_id(line)` for a record without one (results'
    ids derive from it). Results of definitions never feed definitions again."""
    if definitions is None or not any(definitions.any_for(p) for p in projects):
        return []
    records: Sequence[dict[str, Any] | BaseModel] = (
        _trusted_records(value) if events is None else events
    )
    results: list[dict[str, Any]] = []
    for line, item in enumerate(records):
        record = item if isinstance(item, dict) else item.model_dump(mode="json")
        if record.get("kind") == "metric_value" and record.get("category") == "custom":
            continue
        record.setdefault("event_id", event_id(line))
        results.extend(definitions.evaluate(kind, record))
    return results


def spend_ledger(
    events: list[ApiCost | GpuCost],
    *,
    origin: MessageOrigin,
    window_seconds: int,
    prices: Prices,
) -> list[CostEntry]:
    """Ledger lines of a message's API and GPU spend (`prices` as of its append time)."""
    api = [e for e in events if isinstance(e, ApiCost)]
    gpu = [e for e in events if isinstance(e, GpuCost)]
    entry_id = f"{'api_cost' if api else 'gpu_cost'}:{slice_id(origin)}"
    return [
        *api_cost_entries(api, entry_id=entry_id, window_seconds=window_seconds, prices=prices),
        *gpu_cost_entries(gpu, entry_id=entry_id, window_seconds=window_seconds),
    ]


FeedbackEvent = MetricValue | GraderScore | Preference


@dataclass(frozen=True, slots=True)
class FeedbackOutputs:
    partials: list[FeedbackRollup]
    metric_values: list[dict[str, Any]]


def read_feedback(
    kind: Source, value: bytes, *, origin: MessageOrigin, validated: bool
) -> tuple[list[Feedback], list[FeedbackEvent] | None]:
    """The partials' view of one message's feedback, and the events themselves when the
    contract had to read them (None on the trusted path), as `read_completions` does."""
    feedback = trusted_feedback(value, kind) if validated else None
    if feedback is not None:
        return feedback, None
    decoded = decode_envelope(value, kind=kind, origin=origin)
    events = [e for e in decoded.events if isinstance(e, MetricValue | GraderScore | Preference)]
    return [Feedback.of(event) for event in events], events


def feedback_outputs(
    kind: Source,
    value: bytes,
    *,
    origin: MessageOrigin,
    validated: bool,
    windows: tuple[int, ...],
    key_info: Callable[[str, str], KeyInfo | None],
    definitions: DefinitionSet | None = None,
) -> FeedbackOutputs:
    feedback, events = read_feedback(kind, value, origin=origin, validated=validated)
    partials = build_feedback_partials(
        feedback, windows=windows, partial_id=slice_id(origin), key_info=key_info
    )
    results = definition_results(
        definitions, kind, value, events,
        projects={f.project for f in feedback}, event_id=origin.event_id,
    )  # fmt: skip
    return FeedbackOutputs(partials, results)

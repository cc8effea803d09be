"""Inference rollup partials: completions of one input slice, per (project, model, window).

A worker calls `build_partials` on the completions of one envelope batch of one
partition and names the slice in `partial_id` (topic:partition:first-last), so
a replay produces the same partials and replaces them downstream. Windows are
event-time buckets `[start, start + window_seconds)`; a late completion simply
lands in its (older) window and its partial corrects that window.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from meterstream_contracts import Completion
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.sketch import RELATIVE_ACCURACY, QuantileSketch
from meterstream_pricing import PricingRegistry, UnknownModelPrice, Usage


def window_start(at: datetime, window_seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)


@dataclass
class _Window:
    count: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency: QuantileSketch = field(default_factory=QuantileSketch)
    ttft: QuantileSketch = field(default_factory=QuantileSketch)
    decode_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class PartialsResult:
    partials: list[InferenceRollup]
    unpriced: dict[tuple[str, str], int]
    """(provider, model) → completions with no registered price (cost counted as 0)."""


def completion_cost(completion: Completion, pricing: PricingRegistry) -> float:
    """USD for one completion at its event time; UnknownModelPrice when none is registered."""
    usage = Usage(
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cached_input_tokens=completion.cached_tokens,
    )
    cost, _ = pricing.cost(
        usage, provider=completion.provider or "", model=completion.model, at=completion.time
    )
    return cost


def build_partials(
    completions: Iterable[Completion],
    *,
    window_seconds: int,
    partial_id: str,
    pricing: PricingRegistry,
) -> PartialsResult:
    windows: dict[tuple[str, str, datetime], _Window] = {}
    unpriced: dict[tuple[str, str], int] = {}
    for completion in completions:
        key = (completion.project, completion.model, window_start(completion.time, window_seconds))
        window = windows.get(key)
        if window is None:
            window = windows[key] = _Window()
        window.count += 1
        if completion.status != "ok":
            window.errors[completion.status] = window.errors.get(completion.status, 0) + 1
        window.input_tokens += completion.input_tokens
        window.output_tokens += completion.output_tokens
        window.cached_tokens += completion.cached_tokens
        try:
            window.cost_usd += completion_cost(completion, pricing)
        except UnknownModelPrice:
            ident = (completion.provider or "", completion.model)
            unpriced[ident] = unpriced.get(ident, 0) + 1
        window.latency.add(completion.latency_ms)
        if completion.ttft_ms is not None:
            window.ttft.add(completion.ttft_ms)
            if completion.status == "ok":
                window.decode_seconds += (completion.latency_ms - completion.ttft_ms) / 1000
    partials = [
        InferenceRollup(
            project=project,
            model=model,
            window_start=start,
            window_seconds=window_seconds,
            partial_id=partial_id,
            count=window.count,
            errors=window.errors,
            input_tokens=window.input_tokens,
            output_tokens=window.output_tokens,
            cached_tokens=window.cached_tokens,
            cost_usd=window.cost_usd,
            sketch_relative_accuracy=RELATIVE_ACCURACY,
            latency_bins=window.latency.bins,
            ttft_bins=window.ttft.bins,
            decode_seconds=window.decode_seconds,
        )
        for (project, model, start), window in sorted(windows.items())
    ]
    return PartialsResult(partials, unpriced)

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
from datetime import UTC, date, datetime
from typing import Any

from meterstream_contracts import Completion
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.sketch import RELATIVE_ACCURACY, QuantileSketch
from meterstream_pricing import ModelPrice, PricingRegistry, UnknownModelPrice, Usage


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


@dataclass(frozen=True, slots=True)
class Call:
    """The fields of a completion that rollups use (from a model or a trusted JSON record)."""

    project: str
    model: str
    provider: str
    time: datetime
    status: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    latency_ms: float
    ttft_ms: float | None

    @classmethod
    def of(cls, completion: Completion) -> Call:
        return cls(
            completion.project,
            completion.model,
            completion.provider or "",
            completion.time,
            completion.status,
            completion.input_tokens,
            completion.output_tokens,
            completion.cached_tokens,
            completion.latency_ms,
            completion.ttft_ms,
        )

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Call:
        """From an event a validating producer wrote (the envelope carried ms-validated)."""
        return cls(
            record["project"],
            record["model"],
            record.get("provider") or "",
            datetime.fromisoformat(record["time"]),
            record.get("status", "ok"),
            record.get("input_tokens", 0),
            record.get("output_tokens", 0),
            record.get("cached_tokens", 0),
            float(record["latency_ms"]),
            record.get("ttft_ms"),
        )


class _Prices:
    """Price lookups cached per (provider, model, day): one registry search per day."""

    def __init__(self, pricing: PricingRegistry) -> None:
        self._pricing = pricing
        self._cache: dict[tuple[str, str, date], ModelPrice | None] = {}

    def cost(self, call: Call) -> float | None:
        key = (call.provider, call.model, call.time.date())
        if key not in self._cache:
            try:
                self._cache[key] = self._pricing.price_at(call.provider, call.model, call.time)
            except UnknownModelPrice:
                self._cache[key] = None
        price = self._cache[key]
        if price is None:
            return None
        usage = Usage(call.input_tokens, call.output_tokens, call.cached_tokens)
        return price.cost_usd(usage)


def build_partials(
    completions: Iterable[Completion],
    *,
    window_seconds: int,
    partial_id: str,
    pricing: PricingRegistry,
) -> PartialsResult:
    return build_partials_from_calls(
        [Call.of(c) for c in completions],
        window_seconds=window_seconds,
        partial_id=partial_id,
        pricing=pricing,
    )


def build_partials_from_calls(
    calls: Iterable[Call],
    *,
    window_seconds: int | tuple[int, ...],
    partial_id: str,
    pricing: PricingRegistry,
) -> PartialsResult:
    """Partials for one or several window lengths in one pass over the calls.

    Per call, the price, the sketch bins and the epoch second are worked out
    once and then added to each window length's bucket.
    """
    lengths = (window_seconds,) if isinstance(window_seconds, int) else window_seconds
    prices = _Prices(pricing)
    probe = QuantileSketch()
    windows: dict[tuple[str, str, int, int], _Window] = {}
    unpriced: dict[tuple[str, str], int] = {}
    for call in calls:
        cost = prices.cost(call)
        if cost is None:
            ident = (call.provider, call.model)
            unpriced[ident] = unpriced.get(ident, 0) + 1
        latency_bin = probe.index(call.latency_ms)
        ttft_bin = None if call.ttft_ms is None else probe.index(call.ttft_ms)
        epoch = int(call.time.timestamp())
        for length in lengths:
            key = (call.project, call.model, length, epoch - epoch % length)
            window = windows.get(key)
            if window is None:
                window = windows[key] = _Window()
            window.count += 1
            if call.status != "ok":
                window.errors[call.status] = window.errors.get(call.status, 0) + 1
            window.input_tokens += call.input_tokens
            window.output_tokens += call.output_tokens
            window.cached_tokens += call.cached_tokens
            if cost is not None:
                window.cost_usd += cost
            window.latency.add_to_bin(latency_bin)
            if ttft_bin is not None and call.ttft_ms is not None:
                window.ttft.add_to_bin(ttft_bin)
                if call.status == "ok":
                    window.decode_seconds += (call.latency_ms - call.ttft_ms) / 1000
    partials = [
        InferenceRollup(
            project=project,
            model=model,
            window_start=datetime.fromtimestamp(start, UTC),
            window_seconds=length,
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
        for (project, model, length, start), window in sorted(windows.items())
    ]
    return PartialsResult(partials, unpriced)

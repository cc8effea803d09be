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
from meterstream_contracts.derived import CostEntry, InferenceRollup
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
    decode_tokens: int = 0


@dataclass(frozen=True, slots=True)
class PartialsResult:
    partials: list[InferenceRollup]
    unpriced: dict[tuple[str, str], int]
    """(provider, model) → completions with no registered price (cost counted as 0)."""
    ledger: list[CostEntry] = field(default_factory=list)
    """Spend per (project, provider, model, smallest window, price version)."""


@dataclass
class _Charge:
    count: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0


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


class Prices:
    """Price lookups as of one moment, cached per (provider, model, day).

    `as_of` is when the input was appended to the log: only versions published
    by then count, so a replay prices the input exactly as the first pass did.
    """

    def __init__(self, pricing: PricingRegistry, as_of: datetime | None = None) -> None:
        self._pricing = pricing
        self._as_of = as_of
        self._cache: dict[tuple[str, str, date], ModelPrice | None] = {}

    def price(self, provider: str, model: str, at: datetime) -> ModelPrice | None:
        key = (provider, model, at.date())
        if key not in self._cache:
            try:
                self._cache[key] = self._pricing.price_at(provider, model, at, as_of=self._as_of)
            except UnknownModelPrice:
                self._cache[key] = None
        return self._cache[key]


def build_partials(
    completions: Iterable[Completion],
    *,
    window_seconds: int,
    partial_id: str,
    pricing: PricingRegistry,
    as_of: datetime | None = None,
) -> PartialsResult:
    return build_partials_from_calls(
        [Call.of(c) for c in completions],
        window_seconds=window_seconds,
        partial_id=partial_id,
        pricing=pricing,
        as_of=as_of,
    )


def build_partials_from_calls(
    calls: Iterable[Call],
    *,
    window_seconds: int | tuple[int, ...],
    partial_id: str,
    pricing: PricingRegistry,
    as_of: datetime | None = None,
) -> PartialsResult:
    """Partials for one or several window lengths in one pass over the calls, and the
    cost ledger's lines for the same calls (bucketed by the shortest window).

    Per call, the price, the sketch bins and the epoch second are worked out
    once and then added to each window length's bucket.
    """
    lengths = (window_seconds,) if isinstance(window_seconds, int) else window_seconds
    shortest = min(lengths)
    prices = Prices(pricing, as_of)
    probe = QuantileSketch()
    windows: dict[tuple[str, str, int, int], _Window] = {}
    charges: dict[tuple[str, str, str, int, str], _Charge] = {}
    unpriced: dict[tuple[str, str], int] = {}
    for call in calls:
        price = prices.price(call.provider, call.model, call.time)
        usage = Usage(call.input_tokens, call.output_tokens, call.cached_tokens)
        cost = None if price is None else price.cost_usd(usage)
        if cost is None:
            ident = (call.provider, call.model)
            unpriced[ident] = unpriced.get(ident, 0) + 1
        epoch = int(call.time.timestamp())
        charge_key = (
            call.project,
            call.provider,
            call.model,
            epoch - epoch % shortest,
            "" if price is None else price.version,
        )
        charge = charges.get(charge_key)
        if charge is None:
            charge = charges[charge_key] = _Charge()
        charge.count += 1
        charge.input_tokens += call.input_tokens
        charge.output_tokens += call.output_tokens
        charge.cached_tokens += call.cached_tokens
        charge.cost_usd += cost or 0.0
        latency_bin = probe.index(call.latency_ms)
        ttft_bin = None if call.ttft_ms is None else probe.index(call.ttft_ms)
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
                    window.decode_tokens += call.output_tokens
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
            decode_tokens=window.decode_tokens,
        )
        for (project, model, length, start), window in sorted(windows.items())
    ]
    ledger = [
        CostEntry(
            entry_id=f"completion:{partial_id}",
            project=project,
            cost_kind="completion",
            provider=provider,
            model=model,
            window_start=datetime.fromtimestamp(start, UTC),
            window_seconds=shortest,
            price_version=version,
            count=charge.count,
            input_tokens=charge.input_tokens,
            output_tokens=charge.output_tokens,
            cached_tokens=charge.cached_tokens,
            cost_usd=charge.cost_usd,
        )
        for (project, provider, model, start, version), charge in sorted(charges.items())
    ]
    return PartialsResult(partials, unpriced, ledger)

"""Inference rollup partials: completions of one input slice, per (project, model, window).

A worker calls `build_partials` on the completions of one envelope batch of one
partition and names the slice in `partial_id` (topic:partition:first-last), so
a replay produces the same partials and replaces them downstream. Windows are
event-time buckets `[start, start + window_seconds)`; a late completion simply
lands in its (older) window and its partial corrects that window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

import msgspec
from meterstream_rollup_native import completion_sums

from meterstream_contracts import Completion
from meterstream_contracts.derived import CostEntry, InferenceRollup
from meterstream_derivations.sketch import (
    MIN_INDEXABLE,
    RELATIVE_ACCURACY,
    ZERO_BIN,
    QuantileSketch,
    add_bins,
)
from meterstream_derivations.trusted import AwareTime, decode_trusted
from meterstream_pricing import ModelPrice, PricingRegistry, UnknownModelPrice, Usage

if TYPE_CHECKING:
    from meterstream_derivations.merge import Partial

DAY_S: Final = 86_400
REPORTED: Final = "reported"
"""The version of spend no price was known for, charged at the cost reported with it."""


def window_start(at: datetime, window_seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)


@dataclass(slots=True)
class _Bucket:
    """Sums of some calls: of one (project, model, provider, shortest window, price
    version) while the calls are read, then of a whole window of each length."""

    count: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    latency_bins: dict[int, int] = field(default_factory=dict)
    ttft_bins: dict[int, int] = field(default_factory=dict)
    decode_seconds: float = 0.0
    decode_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost_usd: float = 0.0
    unpriced: int = 0

    def usage(self) -> Usage:
        return Usage(
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            cached_input_tokens=self.cached_tokens,
            cache_creation_input_tokens=self.cache_write_tokens,
            cache_creation_1h_input_tokens=self.cache_write_1h_tokens,
            reasoning_tokens=self.reasoning_tokens,
            calls=self.count,
        )


class RollupSums(Protocol):
    """What a bucket of calls and a merged window sum (a partial carries the same)."""

    count: int
    errors: dict[str, int]
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: float
    latency_bins: dict[int, int]
    ttft_bins: dict[int, int]
    decode_seconds: float
    decode_tokens: int
    unpriced: int


def add_sums(into: RollupSums, other: RollupSums | Partial) -> None:
    """Add `other`'s counts, tokens, cost, sketch bins and decode time to `into`: the one
    place these sums are written, for the buckets of one message and the merged windows."""
    into.count += other.count
    for status, n in other.errors.items():
        into.errors[status] = into.errors.get(status, 0) + n
    into.input_tokens += other.input_tokens
    into.output_tokens += other.output_tokens
    into.cached_tokens += other.cached_tokens
    into.cost_usd += other.cost_usd
    add_bins(into.latency_bins, other.latency_bins)
    add_bins(into.ttft_bins, other.ttft_bins)
    into.decode_seconds += other.decode_seconds
    into.decode_tokens += other.decode_tokens
    into.unpriced += other.unpriced


@dataclass(frozen=True, slots=True)
class PartialsResult:
    partials: list[InferenceRollup]
    unpriced: dict[tuple[str, str], int]
    """(provider, model) → completions no price is known for (charged their reported
    cost, or 0)."""
    ledger: list[CostEntry] = field(default_factory=list)
    """Spend per (project, provider, model, smallest window, price version)."""


class Call(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """The fields of a completion that rollups use: from a model, or decoded straight
    from a trusted envelope's JSON (its other fields skipped, no dict per event)."""

    project: str
    model: str
    time: AwareTime
    latency_ms: float
    provider: str | None = None
    status: str = "ok"
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_creation_1h_tokens: int = 0
    reasoning_tokens: int = 0
    reported_cost_usd: float | None = None
    ttft_ms: float | None = None

    @classmethod
    def of(cls, completion: Completion) -> Call:
        return cls(
            project=completion.project,
            model=completion.model,
            time=completion.time,
            latency_ms=completion.latency_ms,
            provider=completion.provider,
            status=completion.status,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cached_tokens=completion.cached_tokens,
            cache_creation_tokens=completion.cache_creation_tokens,
            cache_creation_1h_tokens=completion.cache_creation_1h_tokens,
            reasoning_tokens=completion.reasoning_tokens,
            reported_cost_usd=completion.reported_cost_usd,
            ttft_ms=completion.ttft_ms,
        )


GroupKey = tuple[str, str, str, int]
"""(project, model, provider, start of the shortest window): a bucket of calls."""
_SKETCH = QuantileSketch()
_CALLS = msgspec.json.Decoder(list[Call])
_CALL = msgspec.json.Decoder(Call)


def trusted_calls(value: bytes) -> list[Call] | None:
    """The calls of an envelope a validating producer wrote (it carried ms-validated),
    or None when it does not hold what the mark promised."""
    return decode_trusted(value, _CALLS, _CALL)


class Prices:
    """Price lookups as of one moment, cached per (provider, model, day).

    `as_of` is when the input was appended to the log: only versions published
    by then count, so a replay prices the input exactly as the first pass did.
    """

    def __init__(self, pricing: PricingRegistry, as_of: datetime | None = None) -> None:
        self._pricing = pricing
        self._as_of = as_of
        self._cache: dict[tuple[str, str, int], ModelPrice | None] = {}

    def price(self, provider: str, model: str, at: datetime) -> ModelPrice | None:
        return self.at_second(provider, model, int(at.timestamp()))

    def at_second(self, provider: str, model: str, epoch: int) -> ModelPrice | None:
        """The price at epoch second `epoch`: its day's, unless the price changes within
        a day (off-peak rates), then the one in force at that second."""
        price = self.on_day(provider, model, epoch // DAY_S)
        if price is None or not price.varies_within_day:
            return price
        key = (provider, model, -epoch)  # negative: apart from the days' keys
        if key not in self._cache:
            at = datetime.fromtimestamp(epoch, UTC)
            try:
                self._cache[key] = self._pricing.price_at(provider, model, at, as_of=self._as_of)
            except UnknownModelPrice:
                self._cache[key] = None
        return self._cache[key]

    def on_day(self, provider: str, model: str, day: int) -> ModelPrice | None:
        """The price on UTC day `day` (days since the epoch), for a caller that has the
        epoch second already (a bucket's start)."""
        try:
            return self._cache[(provider, model, day)]
        except KeyError:
            return self._look_up(provider, model, day)

    def _look_up(self, provider: str, model: str, day: int) -> ModelPrice | None:
        midnight = datetime.fromtimestamp(day * DAY_S, UTC)
        try:
            price: ModelPrice | None = self._pricing.price_at(
                provider, model, midnight, as_of=self._as_of
            )
        except UnknownModelPrice:
            price = None
        self._cache[(provider, model, day)] = price
        return price


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


def _bucket_of(calls: list[Call]) -> _Bucket:
    """The sums of one bucket's calls, a field at a time (C-level sums and counts)."""
    bucket = _Bucket(count=len(calls))
    bucket.input_tokens = sum([call.input_tokens for call in calls])
    bucket.output_tokens = sum([call.output_tokens for call in calls])
    bucket.cached_tokens = sum([call.cached_tokens for call in calls])
    bucket.cache_write_tokens = sum([call.cache_creation_tokens for call in calls])
    bucket.cache_write_1h_tokens = sum([call.cache_creation_1h_tokens for call in calls])
    bucket.reasoning_tokens = sum([call.reasoning_tokens for call in calls])
    reported = [call.reported_cost_usd for call in calls if call.reported_cost_usd is not None]
    if reported:
        bucket.reported_cost_usd = sum(reported, 0.0)
    failed = [call.status for call in calls if call.status != "ok"]
    if failed:
        bucket.errors = dict(Counter(failed))
    bucket.latency_bins = _bins([call.latency_ms for call in calls])
    bucket.ttft_bins = _bins([call.ttft_ms for call in calls if call.ttft_ms is not None])
    decoded = [
        (call.latency_ms - call.ttft_ms, call.output_tokens)
        for call in calls
        if call.ttft_ms is not None and call.status == "ok"
    ]
    # Added one call at a time from 0, as a loop over the calls would.
    bucket.decode_seconds = sum([seconds / 1000 for seconds, _ in decoded], 0.0)
    bucket.decode_tokens = sum([tokens for _, tokens in decoded])
    return bucket


def _by_tier(price: ModelPrice, calls: list[Call]) -> list[tuple[int, list[Call]]]:
    """The calls by the price tier of their own input (all in tier 0 without tiers)."""
    if not price.tiers:
        return [(0, calls)]
    tiers: dict[int, list[Call]] = {}
    for call in calls:
        tiers.setdefault(price.tier_of(call.input_tokens), []).append(call)
    return sorted(tiers.items())


def _by_report(calls: list[Call]) -> list[tuple[bool, list[Call]]]:
    """Unpriced calls apart from those that came with a reported cost."""
    reported = [call for call in calls if call.reported_cost_usd is not None]
    if not reported:
        return [(False, calls)]
    if len(reported) == len(calls):
        return [(True, calls)]
    return [(True, reported), (False, [c for c in calls if c.reported_cost_usd is None])]


def _bins(values: list[float]) -> dict[int, int]:
    sketch = QuantileSketch()
    sketch.extend(values)
    return sketch.bins


def _summed(buckets: list[_Bucket]) -> _Bucket:
    """A window's sums: the bucket itself when it is the window's only one."""
    if len(buckets) == 1:
        return buckets[0]
    window = _Bucket()
    for bucket in buckets:
        add_sums(window, bucket)
    return window


def _shortest(lengths: tuple[int, ...]) -> int:
    """The shortest window length, which every other one must be a multiple of, and
    which must divide a day (a bucket of it then lies within one UTC day's prices)."""
    shortest = min(lengths)
    if any(length % shortest for length in lengths):
        raise ValueError(f"window lengths {lengths} must be multiples of the shortest")
    if DAY_S % shortest:
        raise ValueError(f"the shortest window length {shortest} s must divide a day")
    return shortest


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

    Each call is binned and summed once, into the bucket of its shortest window (and
    provider); each bucket is priced once, and each window of every length is then the
    sum of its buckets. Window lengths must be multiples of the shortest.
    """
    lengths = (window_seconds,) if isinstance(window_seconds, int) else window_seconds
    shortest = _shortest(lengths)
    groups: dict[GroupKey, list[Call]] = {}
    for call in calls:
        epoch = int(call.time.timestamp())
        key = (call.project, call.model, call.provider or "", epoch - epoch % shortest)
        group = groups.get(key)
        if group is None:
            groups[key] = [call]
        else:
            group.append(call)
    return _partials_of(groups, lengths, partial_id, Prices(pricing, as_of))


def build_partials_from_envelope(
    value: bytes,
    *,
    window_seconds: int | tuple[int, ...],
    partial_id: str,
    pricing: PricingRegistry,
    as_of: datetime | None = None,
) -> PartialsResult | None:
    """`build_partials_from_calls` of an envelope marked validated, its buckets summed in
    Rust (`meterstream_rollup_native`, half the CPU): the same partials and ledger.
    None when the Rust reading declines the envelope or a price splits a bucket by tiers:
    the calls are then read and summed here."""
    lengths = (window_seconds,) if isinstance(window_seconds, int) else window_seconds
    sums = completion_sums(
        value,
        shortest=_shortest(lengths),
        log_gamma=_SKETCH.log_gamma,
        min_indexable=MIN_INDEXABLE,
        zero_bin=ZERO_BIN,
    )
    if sums is None:
        return None
    groups: dict[GroupKey, list[Call] | _Bucket] = {}
    for key, count, tokens, errors, latency_bins, ttft_bins, decode_seconds, decode_tokens in sums:
        bucket = _Bucket(count=count, errors=errors, latency_bins=latency_bins,
                         ttft_bins=ttft_bins, decode_seconds=decode_seconds,
                         decode_tokens=decode_tokens)  # fmt: skip
        (bucket.input_tokens, bucket.output_tokens, bucket.cached_tokens,
         bucket.cache_write_tokens, bucket.cache_write_1h_tokens,
         bucket.reasoning_tokens) = tokens  # fmt: skip
        groups[key] = bucket
    try:
        return _partials_of(groups, lengths, partial_id, Prices(pricing, as_of))
    except _SplitByTier:
        return None


class _SplitByTier(Exception):
    """A bucket summed whole lies across a price's tiers: its calls are needed."""


def _unpriced_parts(group: list[Call] | _Bucket) -> list[tuple[bool, _Bucket]]:
    """(came with a reported cost, sums) of a bucket no price is known for."""
    if isinstance(group, _Bucket):
        return [(False, group)]  # the Rust reading declines calls with a reported cost
    return [(reported, _bucket_of(part)) for reported, part in _by_report(group)]


def _priced_parts(price: ModelPrice, group: list[Call] | _Bucket) -> list[tuple[int, _Bucket]]:
    """(price tier, sums) of a priced bucket."""
    if isinstance(group, _Bucket):
        if price.tiers:
            raise _SplitByTier
        return [(0, group)]
    return [(tier, _bucket_of(part)) for tier, part in _by_tier(price, group)]


def _partials_of(
    groups: Mapping[GroupKey, list[Call] | _Bucket],
    lengths: tuple[int, ...],
    partial_id: str,
    prices: Prices,
) -> PartialsResult:
    shortest = min(lengths)
    # A bucket lies within one UTC day (and one off-peak period), so within one price
    # version; its calls are split by the tier of their own input, and each part is
    # priced once from its token sums (cost is linear within a tier, as reconcile
    # computes it).
    buckets: dict[tuple[str, str, str, int, str], _Bucket] = {}
    sources: dict[tuple[str, str, str, int, str], str] = {}
    unpriced: dict[tuple[str, str], int] = {}
    for (project, model, provider, start), group in groups.items():
        price = prices.at_second(provider, model, start)
        if price is None:
            for reported, bucket in _unpriced_parts(group):
                bucket.unpriced = bucket.count
                unpriced[(provider, model)] = unpriced.get((provider, model), 0) + bucket.count
                if reported:
                    bucket.cost_usd = bucket.reported_cost_usd
                line = (project, model, provider, start, REPORTED if reported else "")
                buckets[line] = bucket
                sources[line] = "reported" if reported else "unpriced"
            continue
        for tier, bucket in _priced_parts(price, group):
            tier_price = price.at_tier(tier)
            bucket.cost_usd = tier_price.cost_usd(bucket.usage())
            line = (project, model, provider, start, tier_price.version)
            buckets[line] = bucket
            sources[line] = "registry" if price.source == "registry" else "catalogue"
    members: dict[tuple[str, str, int, int], list[_Bucket]] = {}
    for (project, model, _, start, _), bucket in buckets.items():
        for length in lengths:
            members.setdefault((project, model, length, start - start % length), []).append(bucket)
    windows = {key: _summed(group) for key, group in members.items()}
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
            latency_bins=window.latency_bins,
            ttft_bins=window.ttft_bins,
            decode_seconds=window.decode_seconds,
            decode_tokens=window.decode_tokens,
            unpriced=window.unpriced,
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
            cache_write_tokens=charge.cache_write_tokens,
            cache_write_1h_tokens=charge.cache_write_1h_tokens,
            reasoning_tokens=charge.reasoning_tokens,
            cost_usd=charge.cost_usd,
            reported_cost_usd=charge.reported_cost_usd,
            cost_source=sources[(project, model, provider, start, version)],
        )
        for (project, model, provider, start, version), charge in sorted(buckets.items())
    ]
    return PartialsResult(partials, unpriced, ledger)

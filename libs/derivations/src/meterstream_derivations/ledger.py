"""The cost ledger: spend per input slice and price version, and re-pricing. Pure.

Completion spend is built with the inference partials (one pass, see
`inference`); this module prices API and GPU spend and plans re-pricing.

Re-pricing never edits a line. For every slice charged at a version that is
no longer the one in effect, it appends a reversal (the old version's line,
negated) and a charge at the current version, both under the id
`reprice:<new version>:<original id>`; the ledger then sums to the current
prices and still shows what was charged before. A second run with the same
registry finds nothing to do, and a replayed run writes the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from meterstream_contracts import ApiCost, GpuCost
from meterstream_contracts.derived import CostEntry, InferenceRollup
from meterstream_derivations.inference import REPORTED, Prices
from meterstream_pricing import ModelPrice, PricingRegistry, Usage

REPRICE_PREFIX = "reprice:"


def _bucket(at: datetime, seconds: int) -> datetime:
    epoch = int(at.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, UTC)


def _group_key(entry: CostEntry) -> tuple[object, ...]:
    return (
        entry.project,
        entry.cost_kind,
        entry.provider,
        entry.model,
        entry.run_id,
        entry.split,
        entry.source,
        entry.window_start,
        entry.price_version,
    )


_SUMMED = (
    "count",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
    "gpu_seconds",
    "cost_usd",
    "reported_cost_usd",
)


def _add(seen: CostEntry, entry: CostEntry) -> CostEntry:
    return seen.model_copy(
        update={name: getattr(seen, name) + getattr(entry, name) for name in _SUMMED}
    )


def _combine(entries: Iterable[CostEntry]) -> list[CostEntry]:
    """Entries with the same group and id summed into one line."""
    combined: dict[tuple[object, ...], CostEntry] = {}
    for entry in entries:
        key = (*_group_key(entry), entry.entry_id)
        seen = combined.get(key)
        combined[key] = entry if seen is None else _add(seen, entry)
    return list(combined.values())


def _usage(cost: ApiCost) -> Usage:
    return Usage(
        cost.usage.input_tokens,
        cost.usage.output_tokens,
        cost.usage.cached_input_tokens,
        cost.usage.cache_creation_input_tokens,
        cost.usage.cache_creation_1h_input_tokens,
        cost.usage.reasoning_tokens,
    )


def source_of(price: ModelPrice) -> str:
    return "registry" if price.source == "registry" else "catalogue"


def api_cost_priced(cost: ApiCost, prices: Prices) -> tuple[float, str, str]:
    """(USD, price version, cost source): the price the producer charged at its own
    override (it names the version); else the registry's or the catalogue's price (of
    the tier of this call's input); the reported cost only when nothing prices it; else 0."""
    if cost.cost_usd is not None and cost.price_version not in (None, REPORTED):
        return cost.cost_usd, cost.price_version, "producer"  # the producer's own override
    price = prices.price(cost.provider, cost.model, cost.time)
    if price is not None:
        usage = _usage(cost)
        tier_price = price.for_usage(usage)
        return tier_price.cost_usd(usage), tier_price.version, source_of(price)
    if cost.cost_usd is not None:
        return cost.cost_usd, cost.price_version or REPORTED, "reported"
    return 0.0, "", "unpriced"


def api_cost_entries(
    costs: Iterable[ApiCost], *, entry_id: str, window_seconds: int, prices: Prices
) -> list[CostEntry]:
    """Ledger lines of API spend: the reported price when given, else the registry's."""
    lines = []
    for cost in costs:
        usage = _usage(cost)
        usd, version, source = api_cost_priced(cost, prices)
        lines.append(
            CostEntry(
                entry_id=entry_id,
                project=cost.project,
                cost_kind="api_cost",
                provider=cost.provider,
                model=cost.model,
                run_id=cost.run_id or "",
                split=cost.split,
                source=cost.source,
                window_start=_bucket(cost.time, window_seconds),
                window_seconds=window_seconds,
                price_version=version,
                count=1,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cached_tokens=usage.cached_input_tokens,
                cache_write_tokens=usage.cache_creation_input_tokens,
                cache_write_1h_tokens=usage.cache_creation_1h_input_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cost_usd=usd,
                reported_cost_usd=cost.cost_usd or 0.0,
                cost_source=source,
            )
        )
    return _combine(lines)


def gpu_cost_usd(cost: GpuCost) -> float:
    return cost.seconds / 3600 * cost.price_per_hour_usd * cost.gpu_count


def gpu_cost_entries(
    costs: Iterable[GpuCost], *, entry_id: str, window_seconds: int
) -> list[CostEntry]:
    return _combine(
        CostEntry(
            entry_id=entry_id,
            project=cost.project,
            cost_kind="gpu_cost",
            provider="gpu",
            model=cost.gpu_type,
            run_id=cost.run_id,
            split=cost.split,
            source="gpu",
            window_start=_bucket(cost.time, window_seconds),
            window_seconds=window_seconds,
            price_version=f"gpu/{cost.gpu_type}@{cost.price_per_hour_usd:g}/h",
            count=1,
            gpu_seconds=cost.seconds * cost.gpu_count,
            cost_usd=gpu_cost_usd(cost),
            cost_source="gpu",
        )
        for cost in costs
    )


_SLICE_KINDS = ("completion:", "api_cost:", "gpu_cost:")


def original_id(entry_id: str) -> str:
    """The slice a line charges: `reprice:<version>:completion:3:12` → `completion:3:12`
    (versions may hold colons: Bedrock's model ids, a catalogue's name)."""
    while entry_id.startswith(REPRICE_PREFIX):
        rest = entry_id[len(REPRICE_PREFIX) :]
        cuts = [at for kind in _SLICE_KINDS if (at := rest.find(f":{kind}")) >= 0]
        entry_id = rest[min(cuts) + 1 :] if cuts else rest.split(":", 1)[1]
    return entry_id


@dataclass(frozen=True, slots=True)
class Repricing:
    ledger: list[CostEntry]
    """Reversals and new charges."""
    adjustments: list[InferenceRollup]
    """Cost-only partials (count 0) that correct the inference windows and totals."""


_REPRICEABLE = ("completion", "api_cost")


_UNPRICED = ("unpriced", "reported")


def _tier_suffix(version: str) -> str:
    """`>200000` of a tier's version (`…#digest>200000`), empty for a base price."""
    head, mark, threshold = version.rpartition(">")
    return f">{threshold}" if mark and head and threshold.isdigit() else ""


def plan_repricing(
    ledger: Iterable[CostEntry],
    pricing: PricingRegistry,
    *,
    windows: Sequence[int],
    only: Mapping[str, str] | None = None,
) -> Repricing:
    """Lines (and window adjustments) that bring every slice to today's registry.

    `only` narrows to matching fields (e.g. `{"provider": "openai", "model": "gpt-4o"}`).
    Spend charged at its reported cost is re-priced once a price is known for it (a
    computed price wins over a reported one). A slice's calls of each price tier are
    lines apart, and each is re-priced at its tier.
    """
    net: dict[tuple[object, ...], dict[str, CostEntry]] = {}
    for entry in _combine(ledger):
        if entry.cost_kind not in _REPRICEABLE or entry.cost_source == "producer":
            continue
        if only and any(getattr(entry, name) != value for name, value in only.items()):
            continue
        tier = _tier_suffix(entry.price_version)
        slice_key = (*_group_key(entry)[:-1], tier, original_id(entry.entry_id))
        versions = net.setdefault(slice_key, {})
        seen = versions.get(entry.price_version)
        # a slice's lines at one version net out across ids (a charge and its reversal)
        versions[entry.price_version] = entry if seen is None else _add(seen, entry)
    lines: list[CostEntry] = []
    adjustments: dict[tuple[str, str, str, datetime, int], tuple[float, int]] = {}
    prices = Prices(pricing)
    for slice_key, versions in sorted(net.items(), key=lambda item: repr(item[0])):
        current = [entry for entry in versions.values() if entry.count > 0]
        if len(current) != 1:
            continue
        charged = current[0]
        found = prices.price(charged.provider, charged.model, charged.window_start)
        if found is None:
            continue
        usage = Usage(
            charged.input_tokens,
            charged.output_tokens,
            charged.cached_tokens,
            charged.cache_write_tokens,
            charged.cache_write_1h_tokens,
            charged.reasoning_tokens,
            calls=max(charged.count, 1),
        )
        price = found.for_usage(usage)
        if price.version == charged.price_version:
            continue
        new_cost = price.cost_usd(usage)
        entry_id = f"{REPRICE_PREFIX}{price.version}:{slice_key[-1]}"
        negated = {name: -getattr(charged, name) for name in _SUMMED}
        lines.append(charged.model_copy(update={"entry_id": entry_id, **negated}))
        lines.append(
            charged.model_copy(
                update={
                    "entry_id": entry_id,
                    "price_version": price.version,
                    "cost_source": source_of(found),
                    "cost_usd": new_cost,
                }
            )
        )
        if charged.cost_kind == "completion":
            origin = str(slice_key[-1]).removeprefix("completion:")
            for length in windows:
                key = (
                    charged.project,
                    charged.model,
                    f"{REPRICE_PREFIX}{price.version}:{origin}",
                    _bucket(charged.window_start, length),
                    length,
                )
                cost, unpriced = adjustments.get(key, (0.0, 0))
                now_priced = charged.count if charged.cost_source in _UNPRICED else 0
                adjustments[key] = (cost + new_cost - charged.cost_usd, unpriced - now_priced)
    partials = [
        InferenceRollup(
            project=project,
            model=model,
            window_start=start,
            window_seconds=length,
            partial_id=partial_id,
            count=0,
            cost_usd=delta,
            unpriced=unpriced,
        )
        for (project, model, partial_id, start, length), (delta, unpriced) in sorted(
            adjustments.items()
        )
    ]
    partials.sort(key=lambda p: (p.project, p.model, _offset_order(p.partial_id)))
    return Repricing(lines, partials)


def _offset_order(partial_id: str) -> tuple[str, int]:
    namespace, _, offset = partial_id.rpartition(":")
    return namespace, int(offset) if offset.isdigit() else 0

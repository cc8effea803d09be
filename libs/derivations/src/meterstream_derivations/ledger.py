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
from meterstream_derivations.inference import Prices
from meterstream_pricing import PricingRegistry, Usage

REPORTED = "reported"
"""The version of spend whose producer reported the price paid."""

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


def _combine(entries: Iterable[CostEntry]) -> list[CostEntry]:
    """Entries with the same group and id summed into one line."""
    combined: dict[tuple[object, ...], CostEntry] = {}
    for entry in entries:
        key = (*_group_key(entry), entry.entry_id)
        seen = combined.get(key)
        if seen is None:
            combined[key] = entry
            continue
        combined[key] = seen.model_copy(
            update={
                name: getattr(seen, name) + getattr(entry, name)
                for name in (
                    "count",
                    "input_tokens",
                    "output_tokens",
                    "cached_tokens",
                    "cache_write_tokens",
                    "gpu_seconds",
                    "cost_usd",
                )
            }
        )
    return list(combined.values())


def _usage(cost: ApiCost) -> Usage:
    return Usage(
        cost.usage.input_tokens,
        cost.usage.output_tokens,
        cost.usage.cached_input_tokens,
        cost.usage.cache_creation_input_tokens,
    )


def api_cost_priced(cost: ApiCost, prices: Prices) -> tuple[float, str]:
    """(USD, price version): the reported price when given, else the registry's (0, "")."""
    if cost.cost_usd is not None:
        return cost.cost_usd, cost.price_version or REPORTED
    price = prices.price(cost.provider, cost.model, cost.time)
    if price is None:
        return 0.0, ""
    return price.cost_usd(_usage(cost)), price.version


def api_cost_entries(
    costs: Iterable[ApiCost], *, entry_id: str, window_seconds: int, prices: Prices
) -> list[CostEntry]:
    """Ledger lines of API spend: the reported price when given, else the registry's."""
    lines = []
    for cost in costs:
        usage = _usage(cost)
        usd, version = api_cost_priced(cost, prices)
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
                cost_usd=usd,
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
        )
        for cost in costs
    )


def original_id(entry_id: str) -> str:
    """The slice a line charges: `reprice:<version>:completion:3:12` → `completion:3:12`."""
    while entry_id.startswith(REPRICE_PREFIX):
        entry_id = entry_id[len(REPRICE_PREFIX) :].split(":", 1)[1]
    return entry_id


@dataclass(frozen=True, slots=True)
class Repricing:
    ledger: list[CostEntry]
    """Reversals and new charges."""
    adjustments: list[InferenceRollup]
    """Cost-only partials (count 0) that correct the inference windows and totals."""


_REPRICEABLE = ("completion", "api_cost")


def plan_repricing(
    ledger: Iterable[CostEntry],
    pricing: PricingRegistry,
    *,
    windows: Sequence[int],
    only: Mapping[str, str] | None = None,
) -> Repricing:
    """Lines (and window adjustments) that bring every slice to today's registry.

    `only` narrows to matching fields (e.g. `{"provider": "openai", "model": "gpt-4o"}`).
    Spend whose producer reported the price paid is never re-priced.
    """
    net: dict[tuple[object, ...], dict[str, CostEntry]] = {}
    for entry in _combine(ledger):
        if entry.cost_kind not in _REPRICEABLE or entry.price_version == REPORTED:
            continue
        if only and any(getattr(entry, name) != value for name, value in only.items()):
            continue
        slice_key = (*_group_key(entry)[:-1], original_id(entry.entry_id))
        versions = net.setdefault(slice_key, {})
        seen = versions.get(entry.price_version)
        versions[entry.price_version] = entry if seen is None else _combine([seen, entry])[0]
    lines: list[CostEntry] = []
    adjustments: dict[tuple[str, str, str, datetime, int], float] = {}
    prices = Prices(pricing)
    for slice_key, versions in sorted(net.items(), key=lambda item: repr(item[0])):
        current = [entry for entry in versions.values() if entry.count > 0]
        if len(current) != 1:
            continue
        charged = current[0]
        price = prices.price(charged.provider, charged.model, charged.window_start)
        if price is None or price.version == charged.price_version:
            continue
        usage = Usage(
            charged.input_tokens,
            charged.output_tokens,
            charged.cached_tokens,
            charged.cache_write_tokens,
        )
        new_cost = price.cost_usd(usage)
        entry_id = f"{REPRICE_PREFIX}{price.version}:{slice_key[-1]}"
        negated = {
            name: -getattr(charged, name)
            for name in ("count", "input_tokens", "output_tokens", "cached_tokens")
        }
        negated["cache_write_tokens"] = -charged.cache_write_tokens
        lines.append(
            charged.model_copy(
                update={"entry_id": entry_id, "cost_usd": -charged.cost_usd, **negated}
            )
        )
        lines.append(
            charged.model_copy(
                update={"entry_id": entry_id, "price_version": price.version, "cost_usd": new_cost}
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
                adjustments[key] = adjustments.get(key, 0.0) + new_cost - charged.cost_usd
    partials = [
        InferenceRollup(
            project=project,
            model=model,
            window_start=start,
            window_seconds=length,
            partial_id=partial_id,
            count=0,
            cost_usd=delta,
        )
        for (project, model, partial_id, start, length), delta in sorted(adjustments.items())
    ]
    partials.sort(key=lambda p: (p.project, p.model, _offset_order(p.partial_id)))
    return Repricing(lines, partials)


def _offset_order(partial_id: str) -> tuple[str, int]:
    namespace, _, offset = partial_id.rpartition(":")
    return namespace, int(offset) if offset.isdigit() else 0

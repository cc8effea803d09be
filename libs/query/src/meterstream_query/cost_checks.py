"""Reconcile's cost checks: every completion and every API spend priced again from the
raw events, as the workers price them (each call at the tier of its own input, our
registry's overrides over the catalogue, a reported cost only when nothing prices it),
against the cost ledger and the totals, to 1e-9 USD."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from meterstream_pricing import PricingRegistry, UnknownModelPrice, Usage, default_registry
from meterstream_query.checks import COST_TOLERANCE_USD, CheckResult, compare, where
from meterstream_warehouse import Warehouse


def registry_in(warehouse: Warehouse) -> PricingRegistry:
    """The built-in prices and every published version stored in `model_prices`."""
    registry = default_registry()
    for row in warehouse.query_rows("SELECT * FROM model_prices FINAL ORDER BY time"):
        registry.apply_record({**row, "time": f"{row['time']}+00:00"})
    return registry


SLOT_S: Final = 1800
"""Raw completions are repriced per half hour: within one, the price is one (days for
dated prices, half hours for off-peak rates, which start and end on a half hour)."""


def _thresholds(
    warehouse: Warehouse, registry: PricingRegistry, project: str | None
) -> dict[str, dict[str, list[int]]]:
    """Per provider and model, every input threshold its prices have on the days it was
    called (a call's region among them gives its tier in each price)."""
    rows = warehouse.query_rows(
        f"""
        SELECT DISTINCT provider, model, toString(toDate(time)) AS day
        FROM raw_completions FINAL WHERE {where(project)}
        """,
        params={"project": project or ""},
    )
    found: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in rows:
        try:
            price = registry.price_at(str(row["provider"]), str(row["model"]), _day(row["day"]))
        except UnknownModelPrice:
            continue
        if price.tiers:
            found[(str(row["provider"]), str(row["model"]))].update(t for t, _ in price.tiers)
    nested: dict[str, dict[str, list[int]]] = defaultdict(dict)
    for (provider, model), values in found.items():
        nested[provider][model] = sorted(values)
    return nested


def completion_costs(
    warehouse: Warehouse, registry: PricingRegistry, project: str | None = None
) -> dict[tuple[str, str], float]:
    """Cost per (project, model) of the raw completions, priced as the workers do: each
    call at the tier of its own input, each group of calls in one price from its token
    sums (cost is linear within a tier); calls no price is known for at the cost
    reported with them, else 0."""
    thresholds = _thresholds(warehouse, registry, project)
    rows = warehouse.query_rows(
        f"""
        SELECT project, provider, model,
               intDiv(toUnixTimestamp(time), {SLOT_S}) * {SLOT_S} AS slot,
               arrayCount(t -> input_tokens > t,
                   JSONExtract({{thresholds:String}}, provider, model, 'Array(UInt64)')) AS region,
               count() AS calls, sum(input_tokens) AS input, sum(cached_tokens) AS cached,
               sum(cache_creation_tokens) AS written,
               sum(least(cache_creation_1h_tokens, cache_creation_tokens)) AS written_1h,
               sum(output_tokens) AS output, sum(least(reasoning_tokens, output_tokens)) AS thought,
               sum(ifNull(reported_cost_usd, 0)) AS reported
        FROM raw_completions FINAL WHERE {where(project)}
        GROUP BY project, provider, model, slot, region
        """,
        params={"project": project or "", "thresholds": orjson.dumps(thresholds).decode()},
    )
    costs: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (str(row["project"]), str(row["model"]))
        at = datetime.fromtimestamp(int(row["slot"]), UTC)
        try:
            price = registry.price_at(str(row["provider"]), str(row["model"]), at)
        except UnknownModelPrice:
            costs[key] = costs.get(key, 0.0) + float(row["reported"])
            continue
        region = int(row["region"])
        bounds = thresholds.get(str(row["provider"]), {}).get(str(row["model"]), [])
        tier = 0 if region == 0 else sum(1 for t, _ in price.tiers if t <= bounds[region - 1])
        usage = _usage_of(row, calls=int(row["calls"]))
        costs[key] = costs.get(key, 0.0) + price.at_tier(tier).cost_usd(usage)
    return costs


def _day(text: object) -> datetime:
    return datetime.combine(date.fromisoformat(str(text)), datetime.min.time(), UTC)


def check_costs(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Completion cost per (project, model): the ledger and the totals against a repricing
    of the raw completions."""
    params = {"project": project or ""}
    recomputed = completion_costs(warehouse, registry_in(warehouse), project)
    ledger = warehouse.query_rows(
        f"""
        SELECT project, model, sum(cost_usd) AS cost FROM cost_ledger FINAL
        WHERE cost_kind = 'completion' AND {where(project)} GROUP BY project, model
        """,
        params=params,
    )
    totals = warehouse.query_rows(
        f"SELECT project, model, cost_usd AS cost FROM usage_totals FINAL"
        f" WHERE model != '' AND {where(project)}",
        params=params,
    )
    want = {key: {"ledger_usd": cost, "totals_usd": cost} for key, cost in recomputed.items()}
    got: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for row in ledger:
        got[(row["project"], row["model"])]["ledger_usd"] = float(row["cost"])
    for row in totals:
        got[(row["project"], row["model"])]["totals_usd"] = float(row["cost"])
    return compare(CheckResult("costs"), want, dict(got), tolerance=lambda name: COST_TOLERANCE_USD)


def _usage_of(row: dict[str, Any], *, calls: int = 1) -> Usage:
    """The usage of a row that names its token sums as the cost queries here do."""
    return Usage(
        input_tokens=int(row["input"]),
        output_tokens=int(row["output"]),
        cached_input_tokens=int(row["cached"]),
        cache_creation_input_tokens=int(row["written"]),
        cache_creation_1h_input_tokens=int(row["written_1h"]),
        reasoning_tokens=int(row["thought"]),
        calls=calls,
    )


def api_costs(
    warehouse: Warehouse, registry: PricingRegistry, project: str | None = None
) -> dict[tuple[str, str], float]:
    """API spend per (project, model) from the raw api_cost events, priced one by one as
    the workers do: a producer's own override as sent; else the registry's or the
    catalogue's price; else the reported cost; else 0."""
    rows = warehouse.query_rows(
        f"""
        SELECT project, provider, model, toUnixTimestamp64Milli(time) AS ms,
               usage.input_tokens AS input, usage.output_tokens AS output,
               usage.cached_input_tokens AS cached, usage.cache_creation_input_tokens AS written,
               usage.cache_creation_1h_input_tokens AS written_1h,
               usage.reasoning_tokens AS thought, cost_usd, price_version
        FROM raw_api_costs FINAL WHERE {where(project)}
        """,
        params={"project": project or ""},
    )
    costs: dict[tuple[str, str], float] = defaultdict(float)
    for row in rows:
        key = (str(row["project"]), str(row["model"]))
        reported = row["cost_usd"]
        if reported is not None and row["price_version"] not in (None, "reported"):
            costs[key] += float(reported)
            continue
        usage = _usage_of(row)
        at = datetime.fromtimestamp(int(row["ms"]) / 1000, UTC)
        try:
            price = registry.price_at(str(row["provider"]), str(row["model"]), at)
        except UnknownModelPrice:
            costs[key] += float(reported or 0.0)
            continue
        costs[key] += price.cost_usd(usage)
    return costs


def check_api_costs(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """API spend per (project, model) in the cost ledger against a repricing of the raw
    api_cost events."""
    recomputed = api_costs(warehouse, registry_in(warehouse), project)
    ledger = warehouse.query_rows(
        f"""
        SELECT project, model, sum(cost_usd) AS cost FROM cost_ledger FINAL
        WHERE cost_kind = 'api_cost' AND {where(project)} GROUP BY project, model
        """,
        params={"project": project or ""},
    )
    want = {key: {"ledger_usd": cost} for key, cost in recomputed.items()}
    got = {(row["project"], row["model"]): {"ledger_usd": float(row["cost"])} for row in ledger}
    return compare(CheckResult("api_costs"), want, got, tolerance=lambda name: COST_TOLERANCE_USD)

"""Recompute every derived number from the raw events in ClickHouse and compare it with
what the workers derived and the sink stored: windows, cumulative totals, costs (to
1e-9 USD, priced again from the registry), feedback rollups and training history.

Run it once the pipeline has drained (no event in flight). Each check reports how
many items it compared and, for each that differs, what was stored and what the raw
events give.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from meterstream_pricing import PricingRegistry, UnknownModelPrice, Usage, default_registry
from meterstream_warehouse import Warehouse

COST_TOLERANCE_USD: Final = 1e-9
MAX_SHOWN: Final = 20


@dataclass
class CheckResult:
    name: str
    compared: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences


def _compare(
    result: CheckResult,
    recomputed: dict[tuple[Any, ...], dict[str, float]],
    stored: dict[tuple[Any, ...], dict[str, float]],
    *,
    tolerance: Callable[[str], float] = lambda name: 0.0,
) -> CheckResult:
    for key in sorted(recomputed.keys() | stored.keys(), key=str):
        result.compared += 1
        want, got = recomputed.get(key), stored.get(key)
        label = "/".join(str(part) for part in key)
        if want is None or got is None:
            missing = "not derived" if got is None else "derived without raw events"
            result.differences.append(f"{label}: {missing}")
            continue
        for name, value in want.items():
            if abs(float(got.get(name, 0)) - float(value)) > tolerance(name):
                result.differences.append(
                    f"{label}: {name} stored {got.get(name)} recomputed {value}"
                )
    return result


def _where(project: str | None, column: str = "project") -> str:
    return f"{column} = {{project:String}}" if project else "1"


def _keyed(
    rows: Iterable[dict[str, Any]], key: tuple[str, ...], values: tuple[str, ...]
) -> dict[tuple[Any, ...], dict[str, float]]:
    return {tuple(row[k] for k in key): {v: float(row[v]) for v in values} for row in rows}


_COUNTS: Final = ("count", "errors", "input_tokens", "output_tokens", "cached_tokens")
_RAW_COUNTS: Final = """count() AS count, countIf(status != 'ok') AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens"""


def check_windows(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Every merged window (each length the workers emit) against the raw completions."""
    params = {"project": project or ""}
    sizes = warehouse.query_rows(
        f"SELECT DISTINCT window_seconds AS s FROM inference_windows WHERE {_where(project)}",
        params=params,
    )
    result = CheckResult("windows")
    for size in sorted(int(row["s"]) for row in sizes):
        recomputed = warehouse.query_rows(
            f"""
            SELECT project, model, toUnixTimestamp(toStartOfInterval(time,
                   toIntervalSecond({size}))) AS start, {_RAW_COUNTS}
            FROM raw_completions FINAL WHERE {_where(project)}
            GROUP BY project, model, start
            """,
            params=params,
        )
        stored = warehouse.query_rows(
            f"""
            SELECT project, model, toUnixTimestamp(window_start) AS start, count,
                   arraySum(mapValues(errors)) AS errors, input_tokens, output_tokens,
                   cached_tokens
            FROM inference_windows FINAL
            WHERE window_seconds = {size} AND {_where(project)}
            """,
            params=params,
        )
        key = ("project", "model", "start")
        _compare(result, _keyed(recomputed, key, _COUNTS), _keyed(stored, key, _COUNTS))
    return result


def check_totals(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Cumulative usage per (project, model) and per project against the raw completions."""
    params = {"project": project or ""}
    recomputed = warehouse.query_rows(
        f"""
        SELECT project, model, {_RAW_COUNTS} FROM raw_completions FINAL WHERE {_where(project)}
        GROUP BY GROUPING SETS ((project, model), (project))
        """,
        params=params,
    )
    for row in recomputed:
        row["model"] = row["model"] or ""
    stored = warehouse.query_rows(
        f"SELECT project, model, {', '.join(_COUNTS)} FROM usage_totals FINAL"
        f" WHERE {_where(project)}",
        params=params,
    )
    key = ("project", "model")
    return _compare(
        CheckResult("totals"), _keyed(recomputed, key, _COUNTS), _keyed(stored, key, _COUNTS)
    )


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
        FROM raw_completions FINAL WHERE {_where(project)}
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
        FROM raw_completions FINAL WHERE {_where(project)}
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
        usage = Usage(
            input_tokens=int(row["input"]),
            output_tokens=int(row["output"]),
            cached_input_tokens=int(row["cached"]),
            cache_creation_input_tokens=int(row["written"]),
            cache_creation_1h_input_tokens=int(row["written_1h"]),
            reasoning_tokens=int(row["thought"]),
            calls=int(row["calls"]),
        )
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
        WHERE cost_kind = 'completion' AND {_where(project)} GROUP BY project, model
        """,
        params=params,
    )
    totals = warehouse.query_rows(
        f"SELECT project, model, cost_usd AS cost FROM usage_totals FINAL"
        f" WHERE model != '' AND {_where(project)}",
        params=params,
    )
    want = {key: {"ledger_usd": cost, "totals_usd": cost} for key, cost in recomputed.items()}
    got: dict[tuple[Any, ...], dict[str, float]] = defaultdict(dict)
    for row in ledger:
        got[(row["project"], row["model"])]["ledger_usd"] = float(row["cost"])
    for row in totals:
        got[(row["project"], row["model"])]["totals_usd"] = float(row["cost"])
    return _compare(
        CheckResult("costs"), want, dict(got), tolerance=lambda name: COST_TOLERANCE_USD
    )


def check_feedback(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Feedback count and sum per (project, key) against the raw scores, values and
    preferences (a preference counts, without a value)."""
    params = {"project": project or ""}
    recomputed = warehouse.query_rows(
        f"""
        SELECT project, key, count() AS count, sum(value) AS total FROM (
            SELECT project, key, value FROM raw_grader_scores FINAL WHERE {_where(project)}
            UNION ALL
            SELECT project, key, value FROM raw_metric_values FINAL WHERE {_where(project)}
            UNION ALL
            SELECT project, key, 0 AS value FROM raw_preferences FINAL WHERE {_where(project)}
        ) GROUP BY project, key
        """,
        params=params,
    )
    stored = warehouse.query_rows(
        f"""
        SELECT project, key, sum(count) AS count, sum(total) AS total
        FROM feedback_rollup_partials FINAL
        WHERE window_seconds = (SELECT min(window_seconds) FROM feedback_rollup_partials)
          AND {_where(project)}
        GROUP BY project, key
        """,
        params=params,
    )
    key = ("project", "key")
    values = ("count", "total")
    return _compare(
        CheckResult("feedback"),
        _keyed(recomputed, key, values),
        _keyed(stored, key, values),
        tolerance=lambda name: 1e-6 if name == "total" else 0.0,
    )


def check_training(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """One history row per log of each run (several may share a step), and the exact count
    of unique scenarios at the last log that counted them."""
    params = {"project": project or ""}
    recomputed = warehouse.query_rows(
        f"""
        SELECT project, run_id, uniqExact(event_id) AS steps,
               uniqExactArray(scenario_ids) AS scenarios
        FROM raw_training_steps FINAL WHERE {_where(project)}
        GROUP BY project, run_id
        """,
        params=params,
    )
    stored = warehouse.query_rows(
        f"""
        SELECT project, run_id, count() AS steps,
               argMaxIf(metrics['data/cum/num_unique_scenarios'], seq,
                        mapContains(metrics, 'data/cum/num_unique_scenarios')) AS scenarios
        FROM training_history FINAL WHERE {_where(project)}
        GROUP BY project, run_id
        """,
        params=params,
    )
    key = ("project", "run_id")
    return _compare(
        CheckResult("training"),
        _keyed(recomputed, key, ("steps", "scenarios")),
        _keyed(stored, key, ("steps", "scenarios")),
    )


CHECKS: Final = {
    "windows": check_windows,
    "totals": check_totals,
    "costs": check_costs,
    "feedback": check_feedback,
    "training": check_training,
}


def reconcile(
    warehouse: Warehouse, *, project: str | None = None, checks: Iterable[str] = CHECKS
) -> list[CheckResult]:
    return [CHECKS[name](warehouse, project) for name in checks]


def report(results: list[CheckResult]) -> str:
    """A readable summary: each check's counts, then up to MAX_SHOWN differences each."""
    lines = []
    for result in results:
        verdict = "ok" if result.ok else f"{len(result.differences)} differ"
        lines.append(f"{result.name:<10} {result.compared:>10,} compared   {verdict}")
        lines += [f"    {line}" for line in result.differences[:MAX_SHOWN]]
        if len(result.differences) > MAX_SHOWN:
            lines.append(f"    ... and {len(result.differences) - MAX_SHOWN} more")
    return "\n".join(lines)

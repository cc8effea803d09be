"""Recompute every derived number from the raw events in ClickHouse and compare it with
what the workers derived and the sink stored: windows, cumulative totals, costs (to
1e-9 USD, priced again from the registry), feedback rollups and training history.

Run it once the pipeline has drained (no event in flight). Each check reports how
many items it compared and, for each that differs, what was stored and what the raw
events give.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from meterstream_query.checks import MAX_SHOWN, CheckResult, compare, keyed, where
from meterstream_query.cost_checks import (
    check_api_costs,
    check_costs,
    completion_costs,
    registry_in,
)
from meterstream_warehouse import Warehouse

__all__ = [
    "CHECKS",
    "CheckResult",
    "check_api_costs",
    "check_costs",
    "completion_costs",
    "reconcile",
    "registry_in",
    "report",
]

_COUNTS: Final = ("count", "errors", "input_tokens", "output_tokens", "cached_tokens")
_RAW_COUNTS: Final = """count() AS count, countIf(status != 'ok') AS errors,
    sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
    sum(cached_tokens) AS cached_tokens"""


def check_windows(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Every merged window (each length the workers emit) against the raw completions."""
    params = {"project": project or ""}
    sizes = warehouse.query_rows(
        f"SELECT DISTINCT window_seconds AS s FROM inference_windows WHERE {where(project)}",
        params=params,
    )
    result = CheckResult("windows")
    for size in sorted(int(row["s"]) for row in sizes):
        recomputed = warehouse.query_rows(
            f"""
            SELECT project, model, toUnixTimestamp(toStartOfInterval(time,
                   toIntervalSecond({size}))) AS start, {_RAW_COUNTS}
            FROM raw_completions FINAL WHERE {where(project)}
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
            WHERE window_seconds = {size} AND {where(project)}
            """,
            params=params,
        )
        key = ("project", "model", "start")
        compare(result, keyed(recomputed, key, _COUNTS), keyed(stored, key, _COUNTS))
    return result


def check_totals(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Cumulative usage per (project, model) and per project against the raw completions."""
    params = {"project": project or ""}
    recomputed = warehouse.query_rows(
        f"""
        SELECT project, model, {_RAW_COUNTS} FROM raw_completions FINAL WHERE {where(project)}
        GROUP BY GROUPING SETS ((project, model), (project))
        """,
        params=params,
    )
    for row in recomputed:
        row["model"] = row["model"] or ""
    stored = warehouse.query_rows(
        f"SELECT project, model, {', '.join(_COUNTS)} FROM usage_totals FINAL"
        f" WHERE {where(project)}",
        params=params,
    )
    key = ("project", "model")
    return compare(
        CheckResult("totals"), keyed(recomputed, key, _COUNTS), keyed(stored, key, _COUNTS)
    )


def check_feedback(warehouse: Warehouse, project: str | None = None) -> CheckResult:
    """Feedback count and sum per (project, key) against the raw scores, values and
    preferences (a preference counts, without a value)."""
    params = {"project": project or ""}
    recomputed = warehouse.query_rows(
        f"""
        SELECT project, key, count() AS count, sum(value) AS total FROM (
            SELECT project, key, value FROM raw_grader_scores FINAL WHERE {where(project)}
            UNION ALL
            SELECT project, key, value FROM raw_metric_values FINAL WHERE {where(project)}
            UNION ALL
            SELECT project, key, 0 AS value FROM raw_preferences FINAL WHERE {where(project)}
        ) GROUP BY project, key
        """,
        params=params,
    )
    stored = warehouse.query_rows(
        f"""
        SELECT project, key, sum(count) AS count, sum(total) AS total
        FROM feedback_rollup_partials FINAL
        WHERE window_seconds = (SELECT min(window_seconds) FROM feedback_rollup_partials)
          AND {where(project)}
        GROUP BY project, key
        """,
        params=params,
    )
    key = ("project", "key")
    values = ("count", "total")
    return compare(
        CheckResult("feedback"),
        keyed(recomputed, key, values),
        keyed(stored, key, values),
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
        FROM raw_training_steps FINAL WHERE {where(project)}
        GROUP BY project, run_id
        """,
        params=params,
    )
    stored = warehouse.query_rows(
        f"""
        SELECT project, run_id, count() AS steps,
               argMaxIf(metrics['data/cum/num_unique_scenarios'], seq,
                        mapContains(metrics, 'data/cum/num_unique_scenarios')) AS scenarios
        FROM training_history FINAL WHERE {where(project)}
        GROUP BY project, run_id
        """,
        params=params,
    )
    key = ("project", "run_id")
    return compare(
        CheckResult("training"),
        keyed(recomputed, key, ("steps", "scenarios")),
        keyed(stored, key, ("steps", "scenarios")),
    )


CHECKS: Final = {
    "windows": check_windows,
    "totals": check_totals,
    "costs": check_costs,
    "api_costs": check_api_costs,
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

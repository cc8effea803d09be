"""Cost reports from the cost ledger: spend per period and chosen dimensions, with the
price versions that priced it (re-pricing reversals net out)."""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

from meterstream_query.errors import InvalidQuery
from meterstream_query.timerange import TimeRange
from meterstream_warehouse import Warehouse

CostDimension = Literal[
    "project",
    "model",
    "provider",
    "source",
    "split",
    "cost_kind",
    "run_id",
    "price_version",
    "cost_source",
]
COST_DIMENSIONS: Final[tuple[CostDimension, ...]] = get_args(CostDimension)
Period = Literal["minute", "hour", "day"]
_PERIOD_SQL: Final[dict[Period, str]] = {
    "minute": "toStartOfMinute",
    "hour": "toStartOfHour",
    "day": "toStartOfDay",
}


def cost_report(
    warehouse: Warehouse,
    *,
    project: str,
    time_range: TimeRange,
    by: tuple[CostDimension, ...] = ("model",),
    per: Period = "hour",
) -> list[dict[str, Any]]:
    """One row per period and combination of `by`: events, tokens, GPU seconds and cost
    (to 1e-9 USD), and the price versions used when `price_version` is not a dimension."""
    for name in by:
        if name not in COST_DIMENSIONS:
            raise InvalidQuery("by", f"{name!r} is not one of {', '.join(COST_DIMENSIONS)}")
    if per not in _PERIOD_SQL:
        raise InvalidQuery("per", "must be hour or day")
    dims = list(dict.fromkeys(by))
    versions = (
        "" if "price_version" in dims else "arraySort(groupUniqArray(price_version)) AS versions,"
    )
    listed = "".join(f"{name}, " for name in dims)
    return warehouse.query_rows(
        f"""
        SELECT {_PERIOD_SQL[per]}(window_start) AS period, {listed}
               sum(count) AS events,
               sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens,
               sum(cached_tokens) AS cached_tokens, sum(cache_write_tokens) AS cache_write_tokens,
               sum(cache_write_1h_tokens) AS cache_write_1h_tokens,
               sum(reasoning_tokens) AS reasoning_tokens, round(sum(gpu_seconds), 3) AS gpu_seconds,
               sumIf(count, cost_source IN ('unpriced', 'reported')) AS unpriced,
               {versions}
               round(sum(cost_usd), 9) AS cost_usd,
               round(sum(reported_cost_usd), 9) AS reported_cost_usd
        FROM cost_ledger FINAL
        WHERE project = {{project:String}}
          AND window_start >= toStartOfMinute({{start:DateTime64(6, 'UTC')}})
          AND window_start < {{end:DateTime64(6, 'UTC')}}
        GROUP BY {", ".join(["period", *dims])}
        HAVING events != 0 OR cost_usd != 0
        ORDER BY {", ".join(["period", *dims])}
        """,
        params={"project": project, **time_range.bounds},
    )


def unpriced_report(
    warehouse: Warehouse, *, project: str, time_range: TimeRange
) -> list[dict[str, Any]]:
    """Calls no price was known for, per (provider, model), with the cost reported for
    them (charged instead of 0 when there is one), first and last seen: what to add to
    the registry (`meterstream costs set-price`) and then re-price."""
    return warehouse.query_rows(
        """
        SELECT provider, model, cost_kind, sum(count) AS calls,
               round(sum(reported_cost_usd), 9) AS reported_cost_usd,
               min(window_start) AS first_seen, max(window_start) AS last_seen
        FROM cost_ledger FINAL
        WHERE project = {project:String}
          AND cost_source IN ('unpriced', 'reported')
          AND window_start >= toStartOfMinute({start:DateTime64(6, 'UTC')})
          AND window_start < {end:DateTime64(6, 'UTC')}
        GROUP BY provider, model, cost_kind
        HAVING calls > 0
        ORDER BY calls DESC, provider, model
        """,
        params={"project": project, **time_range.bounds},
    )

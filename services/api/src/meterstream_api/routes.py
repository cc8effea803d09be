"""The query API: thin routes over `meterstream_query`; every answer is the caller's project."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from meterstream_api.auth import Project
from meterstream_query import (
    Aggregation,
    Category,
    CostDimension,
    MetricRef,
    Period,
    SeriesQuery,
    Smoothing,
    SmoothingKind,
    SqlLimits,
    TimeRange,
    compare_runs,
    cost_report,
    delete_run,
    feedback_values,
    leaderboard,
    list_metrics,
    list_runs,
    metric_series,
    preference_keys,
    preference_win_rates,
    run_analyst_sql,
    run_history,
    run_keys,
    run_table,
    unpriced_report,
)
from meterstream_query.dead_letters import Place, list_dead_letters, show_dead_letter
from meterstream_query.errors import InvalidQuery
from meterstream_query.feedback import LOOKBACK_S, MAX_LOOKBACK_S
from meterstream_warehouse import Warehouse
from meterstream_warehouse.queries import alert_history

router = APIRouter(prefix="/api/v1")

Lookback = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_LOOKBACK_S,
        description="Match feedback to completions up to this many seconds before `start`",
    ),
]
Start = Annotated[datetime | None, Query(description="ISO time; default: `last` before end")]
End = Annotated[datetime | None, Query(description="ISO time; default: now")]
Last = Annotated[str | None, Query(description="a duration back from end: 15m, 6h, 30d")]
Keys = Annotated[list[str], Query(description="history keys, repeat the parameter")]


def _warehouse(request: Request) -> Warehouse:
    warehouse: Warehouse = request.app.state.warehouse
    return warehouse


Store = Annotated[Warehouse, Depends(_warehouse)]
PageLimit = Annotated[int, Query(ge=1, le=1000)]
PageOffset = Annotated[int, Query(ge=0)]
MaxPoints = Annotated[int, Query(ge=2, le=100_000)]


def _range_from(default_last: str) -> Callable[..., TimeRange]:
    """A dependency reading start / end / last, `default_last` when none is given."""

    def time_range(start: Start = None, end: End = None, last: Last = None) -> TimeRange:
        return TimeRange.of(start=start, end=end, last=last, default_last=default_last)

    return time_range


LastHour = Annotated[TimeRange, Depends(_range_from("1h"))]
LastDay = Annotated[TimeRange, Depends(_range_from("24h"))]
SMOOTHING_DEFAULTS: Final[dict[SmoothingKind, float]] = {
    "none": 0.0, "ema": 0.6, "sma": 10.0, "gaussian": 5.0,
}  # fmt: skip


def _smoothing(smoothing: SmoothingKind = "none", amount: float | None = None) -> Smoothing:
    return Smoothing(smoothing, SMOOTHING_DEFAULTS[smoothing] if amount is None else amount)


ChosenSmoothing = Annotated[Smoothing, Depends(_smoothing)]


def _filters(values: list[str]) -> dict[str, str]:
    filters = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep:
            raise InvalidQuery("filter", f"{item!r} is not name=value")
        filters[name] = value
    return filters


@router.get("/metrics")
def metrics(*, store: Store, project: Project, category: Category | None = None) -> Any:
    """Metrics seen in the project, optionally of one category."""
    return list_metrics(store, project=project, category=category)


@router.get("/series")
def series(
    *,
    store: Store,
    project: Project,
    metric: str,
    agg: Aggregation = "mean",
    group_by: Annotated[list[str], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    filter: Annotated[list[str], Query(description="model=x or label:route=chat")] = [],  # noqa: B006
    interval: Annotated[int | None, Query(ge=1)] = None,
    time_range: LastHour,
) -> Any:
    """A metric's time series per group (`model`, `label:<name>`), from the coarsest table
    that answers exactly."""
    query = SeriesQuery(
        metric=MetricRef.parse(metric),
        aggregation=agg,
        time_range=time_range,
        interval_s=interval,
        group_by=tuple(group_by),
        filters=_filters(filter),
    )
    return metric_series(store, project=project, query=query)


@router.get("/costs")
def costs(
    *,
    store: Store,
    project: Project,
    by: Annotated[list[CostDimension], Query()] = ["model"],  # noqa: B006
    per: Period = "hour",
    time_range: LastDay,
) -> Any:
    return cost_report(
        store,
        project=project,
        time_range=time_range,
        by=tuple(by),
        per=per,
    )


@router.get("/costs/unpriced")
def unpriced_costs(*, store: Store, project: Project, time_range: LastDay) -> Any:
    """Calls no price was known for, per provider and model."""
    return unpriced_report(store, project=project, time_range=time_range)


@router.get("/dead-letters")
def dead_letters(
    *, store: Store, project: Project, time_range: LastDay, limit: PageLimit = 100
) -> Any:
    """The project's dead letters, newest first: place, reason, whether replayed."""
    return list_dead_letters(store, project=project, time_range=time_range, limit=limit)


@router.get("/dead-letters/{position}")
def dead_letter(*, store: Store, project: Project, position: str) -> Any:
    """One of the project's dead letters, with its payload as it was sent."""
    letter = show_dead_letter(store, project=project, place=Place.parse(position))
    if letter is None:
        raise HTTPException(404, f"no dead letter of this project at {position}")
    return letter


@router.get("/feedback/{key}/values")
def feedback(
    *,
    store: Store,
    project: Project,
    key: str,
    limit: PageLimit = 100,
    offset: PageOffset = 0,
    time_range: LastDay,
) -> Any:
    return feedback_values(
        store,
        project=project,
        key=key,
        time_range=time_range,
        limit=limit,
        offset=offset,
    )


@router.get("/feedback/{key}/leaderboard")
def feedback_leaderboard(
    *,
    store: Store,
    project: Project,
    key: str,
    time_range: LastDay,
    lookback_s: Lookback = LOOKBACK_S,
) -> Any:
    return leaderboard(
        store, project=project, key=key, time_range=time_range, lookback_s=lookback_s
    )


@router.get("/preferences")
def preferences(*, store: Store, project: Project, time_range: LastDay) -> Any:
    """Preference keys with comparisons in the range, busiest first."""
    return preference_keys(store, project=project, time_range=time_range)


@router.get("/preferences/{key}/win-rates")
def win_rates(
    *,
    store: Store,
    project: Project,
    key: str,
    time_range: LastDay,
    lookback_s: Lookback = LOOKBACK_S,
) -> Any:
    return preference_win_rates(
        store, project=project, key=key, time_range=time_range, lookback_s=lookback_s
    )


@router.get("/runs")
def runs(
    *,
    store: Store,
    project: Project,
    search: str = "",
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Any:
    return list_runs(store, project=project, search=search, limit=limit, offset=offset)


@router.get("/runs/compare")
def runs_compare(
    *,
    store: Store,
    project: Project,
    run_id: Annotated[list[str], Query()],
    key: Keys,
    smoothing: ChosenSmoothing,
    max_points: MaxPoints = 1_000,
) -> Any:
    return compare_runs(
        store,
        project=project,
        run_ids=run_id,
        keys=key,
        smoothing=smoothing,
        max_points=max_points,
    )


@router.get("/runs/{run_id}/keys")
def history_keys(*, store: Store, project: Project, run_id: str) -> Any:
    return run_keys(store, project=project, run_id=run_id)


@router.get("/runs/{run_id}/history")
def history(
    *,
    store: Store,
    project: Project,
    run_id: str,
    key: Keys,
    smoothing: ChosenSmoothing,
    max_points: MaxPoints = 1_000,
) -> Any:
    return run_history(
        store,
        project=project,
        run_id=run_id,
        keys=key,
        smoothing=smoothing,
        max_points=max_points,
    )


@router.get("/runs/{run_id}/tables/{table}")
def table_rows(
    *,
    store: Store,
    project: Project,
    run_id: str,
    table: str,
    search: str = "",
    limit: PageLimit = 50,
    offset: PageOffset = 0,
) -> Any:
    return run_table(
        store,
        project=project,
        run_id=run_id,
        table=table,
        search=search,
        limit=limit,
        offset=offset,
    )


@router.delete("/runs/{run_id}", status_code=204)
def remove_run(*, store: Store, project: Project, run_id: str) -> Response:
    delete_run(store, project=project, run_id=run_id)
    return Response(status_code=204)


@router.get("/alerts")
def alerts(*, store: Store, project: Project, limit: PageLimit = 50) -> Any:
    """Alert transitions of the project, newest first."""
    return alert_history(store, project=project, limit=limit)


class SqlRequest(BaseModel):
    sql: str = Field(max_length=20_000)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)


@router.post("/sql")
def sql(*, request: Request, store: Store, project: Project, body: SqlRequest) -> Any:
    """A read-only SELECT over the project's own rows, parameters bound server-side."""
    limits: SqlLimits = request.app.state.sql_limits
    return run_analyst_sql(store, project=project, sql=body.sql, params=body.params, limits=limits)

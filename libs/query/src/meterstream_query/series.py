"""Time series of any metric, grouped, aggregated per bucket, from raw points or rollups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from meterstream_query.errors import InvalidQuery
from meterstream_query.metrics import MAX_NAME_CHARS, SYSTEM_VALUE_SQL, MetricRef
from meterstream_query.sketch_sql import bin_sql, quantile_sql
from meterstream_query.timerange import (
    ROLLUP_SECONDS,
    ROLLUP_TABLES,
    ReadPlan,
    TimeRange,
    plan_read,
)
from meterstream_warehouse import Warehouse

Aggregation = Literal["count", "sum", "mean", "min", "max", "rate", "p50", "p90", "p95", "p99"]
AGGREGATIONS: Final[tuple[Aggregation, ...]] = get_args(Aggregation)
MAX_GROUPS: Final = 200
"""Series per answer at most; more groups than this are cut, the busiest kept."""

_VALUE_SQL: Final[dict[str, str]] = {
    "count": "toFloat64(n)",
    "sum": "total",
    "mean": "total / n",
    "min": "lo",
    "max": "hi",
    "rate": "total / {interval:UInt32}",
}


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    metric: MetricRef
    aggregation: Aggregation
    time_range: TimeRange
    interval_s: int | None = None
    group_by: tuple[str, ...] = ()
    """'model', 'error_type' (system metrics) and/or 'label:<name>'."""
    filters: Mapping[str, str] = field(default_factory=dict)
    """'model', 'error_type' or 'label:<name>' → the value it must equal."""

    def __post_init__(self) -> None:
        if self.aggregation not in AGGREGATIONS:
            raise InvalidQuery("aggregation", f"must be one of {', '.join(AGGREGATIONS)}")
        for name in (*self.group_by, *self.filters):
            field = "group_by" if name in self.group_by else "filters"
            _check_dimension(name, field=field)
            if name == "error_type" and self.metric.category != "system":
                raise InvalidQuery(field, "'error_type' is a dimension of system metrics only")

    @property
    def needs_raw(self) -> bool:
        """Label and error-type dimensions live in the raw rows only (not in rollups)."""
        return any(
            name.startswith("label:") or name == "error_type"
            for name in (*self.group_by, *self.filters)
        )


@dataclass(frozen=True, slots=True)
class Series:
    group: dict[str, str]
    times: list[int]
    """Bucket starts, Unix seconds."""
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class SeriesResult:
    metric: str
    aggregation: Aggregation
    interval_s: int
    source: str
    """The table family that answered: raw, 1m, 1h or 1d."""
    series: list[Series]


def _check_dimension(name: str, *, field: str) -> None:
    if name in ("model", "error_type"):
        return
    label = name.removeprefix("label:")
    if name.startswith("label:") and 0 < len(label) <= MAX_NAME_CHARS:
        return
    raise InvalidQuery(field, f"{name!r} is none of 'model', 'error_type', 'label:<name>'")


def _dimension_sql(name: str, param: str) -> str:
    if name in ("model", "error_type"):
        return name
    return f"labels[{{{param}:String}}]"


def _raw_source(metric: MetricRef) -> str:
    """A system metric straight from `raw_completions` (one column, no unpacking of all
    seven); any other metric from the `metric_points` view."""
    if metric.category != "system":
        return "metric_points"
    value = SYSTEM_VALUE_SQL[metric.name]
    return f"""(
        SELECT project, 'system' AS category, {{metric:String}} AS metric, model, time,
               assumeNotNull({value}) AS value, labels, error_type
        FROM raw_completions FINAL
        WHERE project = {{project:String}} AND time >= {{start:DateTime64(6, 'UTC')}}
          AND time < {{end:DateTime64(6, 'UTC')}} AND {value} IS NOT NULL
    )"""


def _bucket_sql(plan: ReadPlan, metric: MetricRef) -> tuple[str, str, str]:
    """(source table, bucket column, aggregate columns) for the plan's resolution."""
    if plan.resolution == "raw":
        columns = (
            "count() AS n, sum(value) AS total, min(value) AS lo, max(value) AS hi,"
            f" sumMap(map({bin_sql('value')}, toUInt64(1))) AS bins"
        )
        return _raw_source(metric), "time", columns
    columns = (
        "sum(count) AS n, sum(total) AS total, min(min) AS lo, max(max) AS hi, sumMap(bins) AS bins"
    )
    return ROLLUP_TABLES[plan.resolution], "bucket", columns


def metric_series(warehouse: Warehouse, *, project: str, query: SeriesQuery) -> SeriesResult:
    """One series per group: the aggregation of the metric's points in each bucket."""
    plan = plan_read(
        query.time_range.span_s, interval_s=query.interval_s, needs_raw=query.needs_raw
    )
    table, time_column, columns = _bucket_sql(plan, query.metric)
    params: dict[str, Any] = {
        "project": project,
        "category": query.metric.category,
        "metric": query.metric.name,
        "interval": plan.interval_s,
        **query.time_range.bounds,
    }
    groups = [f"{_dimension_sql(name, f'g{i}')} AS g{i}" for i, name in enumerate(query.group_by)]
    params.update({f"g{i}": name.removeprefix("label:") for i, name in enumerate(query.group_by)})
    where = [
        "project = {project:String}",
        "category = {category:String}",
        "metric = {metric:String}",
        f"{time_column} < {{end:DateTime64(6, 'UTC')}}",
    ]
    if plan.resolution == "raw":
        where.append("time >= {start:DateTime64(6, 'UTC')}")
    else:
        # Whole buckets: the first one starts at or before `start`.
        resolution = ROLLUP_SECONDS[plan.resolution]
        where.append(
            f"bucket >= toStartOfInterval({{start:DateTime64(6, 'UTC')}},"
            f" toIntervalSecond({resolution}))"
        )
    for i, (name, value) in enumerate(query.filters.items()):
        where.append(f"{_dimension_sql(name, f'f{i}')} = {{v{i}:String}}")
        params[f"f{i}"] = name.removeprefix("label:")
        params[f"v{i}"] = value
    group_names = [f"g{i}" for i in range(len(query.group_by))]
    value = (
        quantile_sql("bins", "n", int(query.aggregation[1:]) / 100)
        if query.aggregation.startswith("p")
        else _VALUE_SQL[query.aggregation]
    )
    listed = ", ".join(group_names) + ", " if group_names else ""
    sql = f"""
        SELECT {listed}groupArray(toUnixTimestamp(t)) AS times, groupArray(v) AS values
        FROM (
            SELECT {listed}t, n, toNullable({value}) AS v
            FROM (
                SELECT toStartOfInterval({time_column}, toIntervalSecond({{interval:UInt32}})) AS t,
                       {", ".join([*groups, columns])}
                FROM {table}
                WHERE {" AND ".join(where)}
                GROUP BY {", ".join(["t", *group_names])}
            )
            ORDER BY t
        )
        GROUP BY {", ".join(group_names) or "tuple()"}
        ORDER BY sum(n) DESC
        LIMIT {MAX_GROUPS}
    """
    rows = warehouse.query_rows(sql, params=params)
    series = [
        Series(
            group={name: str(row[f"g{i}"]) for i, name in enumerate(query.group_by)},
            times=[int(t) for t in row["times"]],
            values=[None if v is None else float(v) for v in row["values"]],
        )
        for row in rows
    ]
    return SeriesResult(
        str(query.metric), query.aggregation, plan.interval_s, plan.resolution, series
    )

"""meterstream's query layer: one library behind the CLI, the HTTP API and the dashboard."""

from meterstream_query.analyst_sql import SqlLimits, run_analyst_sql, scope_sql
from meterstream_query.costs import (
    COST_DIMENSIONS,
    CostDimension,
    Period,
    cost_report,
    unpriced_report,
)
from meterstream_query.errors import InvalidQuery, NotFound, QueryError
from meterstream_query.feedback import (
    feedback_values,
    leaderboard,
    preference_keys,
    preference_win_rates,
)
from meterstream_query.health import pipeline_health
from meterstream_query.metrics import CATEGORIES, Category, MetricRef, list_metrics
from meterstream_query.series import (
    AGGREGATIONS,
    Aggregation,
    SeriesQuery,
    SeriesResult,
    metric_series,
)
from meterstream_query.smoothing import Smoothing, SmoothingKind
from meterstream_query.timerange import TimeRange, parse_duration
from meterstream_query.training import (
    compare_runs,
    config_diff,
    delete_run,
    list_runs,
    run_history,
    run_keys,
    run_table,
)

__all__ = [
    "AGGREGATIONS",
    "CATEGORIES",
    "COST_DIMENSIONS",
    "Aggregation",
    "Category",
    "CostDimension",
    "InvalidQuery",
    "MetricRef",
    "NotFound",
    "Period",
    "QueryError",
    "SeriesQuery",
    "SeriesResult",
    "Smoothing",
    "SmoothingKind",
    "SqlLimits",
    "TimeRange",
    "compare_runs",
    "config_diff",
    "cost_report",
    "delete_run",
    "feedback_values",
    "leaderboard",
    "list_metrics",
    "list_runs",
    "metric_series",
    "parse_duration",
    "pipeline_health",
    "preference_keys",
    "preference_win_rates",
    "run_analyst_sql",
    "run_history",
    "run_keys",
    "run_table",
    "scope_sql",
    "unpriced_report",
]

"""Grafana dashboards for the views the built-in dashboard shows, as provisioning JSON.

The panels read the same tables as the query library (the metric rollups, the cost
ledger, training history, alerts) and take their percentiles from the same sketch
expression, so Grafana and `/api/v1/series` agree. Written to `infra/grafana/` by
`meterstream query grafana-dashboards`; a test runs every panel's SQL on ClickHouse.
"""

from __future__ import annotations

from typing import Any, Final

from meterstream_query.feedback import LOOKBACK_S
from meterstream_query.sketch_sql import quantile_of_sql

DATASOURCE: Final = {"type": "grafana-clickhouse-datasource", "uid": "meterstream-clickhouse"}
"""The datasource `infra/grafana/provisioning/datasources/clickhouse.yaml` provisions."""

_PROJECT = "project = ${project:singlequote}"
_MODELS = "model IN (${model:singlequote})"
_STEP = "greatest($__interval_s, 60)"
"""Bucket width: Grafana's interval, never finer than the 1-minute rollup."""


def _system_series(metric: str, value: str) -> str:
    return f"""SELECT toStartOfInterval(bucket, toIntervalSecond({_STEP})) AS time, model,
       {value} AS value
FROM (
    SELECT bucket, model, count AS n, total, bins FROM metric_rollups_1m
    WHERE {_PROJECT} AND category = 'system' AND metric = '{metric}' AND {_MODELS}
      AND $__timeFilter(bucket)
)
GROUP BY time, model
ORDER BY time, model"""


def _quantile_series(metric: str) -> str:
    return _system_series(
        metric, quantile_of_sql("sumMap(bins)", "sum(n)", "${quantile}").replace("\n", " ")
    )


def _target(sql: str, *, table: bool = False) -> dict[str, Any]:
    return {
        "datasource": DATASOURCE,
        "editorType": "sql",
        "format": 1 if table else 0,
        "queryType": "table" if table else "timeSeries",
        "rawSql": sql,
        "refId": "A",
    }


def _panel(
    title: str,
    sql: str,
    *,
    kind: str = "timeseries",
    unit: str = "short",
    grid: tuple[int, int, int, int],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    x, y, w, h = grid
    return {
        "title": title,
        "type": kind,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [_target(sql, table=kind != "timeseries")],
        **(extra or {}),
    }


def _query_variable(name: str, sql: str, *, multi: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "label": name.replace("_", " "),
        "type": "query",
        "datasource": DATASOURCE,
        "query": sql,
        "definition": sql,
        "refresh": 2,
        "multi": multi,
        "includeAll": multi,
        "sort": 1,
    }


def _custom_variable(name: str, values: tuple[str, ...], default: str) -> dict[str, Any]:
    return {
        "name": name,
        "label": name,
        "type": "custom",
        "query": ",".join(values),
        "current": {"text": default, "value": default},
        "options": [{"text": v, "value": v, "selected": v == default} for v in values],
    }


def _dashboard(
    uid: str, title: str, variables: list[dict[str, Any]], panels: list[dict[str, Any]]
) -> dict[str, Any]:
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": ["meterstream"],
        "timezone": "utc",
        "schemaVersion": 39,
        "editable": True,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "panels": panels,
    }


_PROJECTS = "SELECT DISTINCT project FROM metric_rollups_1d ORDER BY project"


def inference_dashboard() -> dict[str, Any]:
    """Latency and TTFT percentiles per model, error rate, tokens/s, calls, cost per
    project, feedback per key with a model leaderboard, and recent alerts."""
    variables = [
        _query_variable("project", _PROJECTS),
        _query_variable(
            "model",
            "SELECT DISTINCT model FROM metric_rollups_1d"
            f" WHERE {_PROJECT} AND category = 'system' ORDER BY model",
            multi=True,
        ),
        _custom_variable("quantile", ("0.5", "0.9", "0.95", "0.99"), "0.95"),
    ]
    calls = _system_series("calls", "sum(n)")
    errors = _system_series("error", "sum(total) / sum(n)")
    tokens = _system_series("output_tokens", f"sum(total) / {_STEP}")
    cost = """SELECT toStartOfInterval(window_start,
                          toIntervalSecond(greatest($__interval_s, 3600))) AS time,
       project, round(sum(cost_usd), 9) AS value
FROM cost_ledger FINAL
WHERE $__timeFilter(window_start)
GROUP BY time, project
ORDER BY time, project"""
    feedback = f"""SELECT toStartOfInterval(bucket, toIntervalSecond({_STEP})) AS time,
       concat(category, ':', metric) AS key, sum(total) / sum(count) AS value
FROM metric_rollups_1m
WHERE {_PROJECT} AND category IN ('grader', 'user') AND $__timeFilter(bucket)
GROUP BY time, key
ORDER BY time, key"""
    leaderboard = f"""WITH vals AS (
    SELECT cityHash64(completion_id) AS k, key, value FROM raw_grader_scores FINAL
    WHERE {_PROJECT} AND $__timeFilter(time)
    UNION ALL
    SELECT cityHash64(completion_id) AS k, key, value FROM raw_metric_values FINAL
    WHERE {_PROJECT} AND $__timeFilter(time) AND completion_id != ''
)
SELECT v.key AS key, m.model AS model, count() AS count, avg(v.value) AS mean
FROM vals AS v
ANY INNER JOIN (
    SELECT completion_key AS k, model FROM raw_completions
    WHERE {_PROJECT} AND time >= $__fromTime - INTERVAL {LOOKBACK_S} SECOND
      AND time <= $__toTime AND completion_key IN (SELECT k FROM vals)
) AS m ON m.k = v.k
GROUP BY key, model
ORDER BY key, mean DESC"""
    alerts = f"""SELECT time, rule_id, state, severity, summary, value, threshold
FROM alerts FINAL
WHERE {_PROJECT} AND $__timeFilter(time)
ORDER BY time DESC
LIMIT 200"""
    totals = f"""SELECT sumIf(count, metric = 'calls') AS calls,
       sumIf(total, metric = 'error') / nullIf(sumIf(count, metric = 'error'), 0) AS error_rate
FROM metric_rollups_1m
WHERE {_PROJECT} AND category = 'system' AND {_MODELS} AND $__timeFilter(bucket)"""
    panels = [
        _panel("Calls and error rate", totals, kind="stat", grid=(0, 0, 8, 4)),
        _panel("Calls per model", calls, grid=(8, 0, 16, 4)),
        _panel(
            "Latency p${quantile} per model",
            _quantile_series("latency_ms"),
            unit="ms",
            grid=(0, 4, 12, 8),
        ),
        _panel(
            "TTFT p${quantile} per model",
            _quantile_series("ttft_ms"),
            unit="ms",
            grid=(12, 4, 12, 8),
        ),
        _panel("Error rate per model", errors, unit="percentunit", grid=(0, 12, 12, 8)),
        _panel("Output tokens/s per model", tokens, grid=(12, 12, 12, 8)),
        _panel("Cost per project (USD)", cost, unit="currencyUSD", grid=(0, 20, 12, 8)),
        _panel("Feedback mean per key", feedback, grid=(12, 20, 12, 8)),
        _panel("Leaderboard per feedback key", leaderboard, kind="table", grid=(0, 28, 12, 8)),
        _panel("Alerts", alerts, kind="table", grid=(12, 28, 12, 8)),
    ]
    return _dashboard("meterstream-inference", "meterstream — inference", variables, panels)


_RUNS = "run_id IN (${run:singlequote})"


def training_dashboard() -> dict[str, Any]:
    """Curves of a chosen history key for chosen runs, raw and smoothed (a moving average
    over a chosen number of steps), the runs table and their configs."""
    variables = [
        _query_variable("project", "SELECT DISTINCT project FROM training_runs ORDER BY project"),
        _query_variable(
            "run",
            f"SELECT DISTINCT run_id FROM training_runs FINAL WHERE {_PROJECT} ORDER BY run_id",
            multi=True,
        ),
        _query_variable(
            "key",
            "SELECT DISTINCT arrayJoin(mapKeys(metrics)) AS key FROM training_history"
            f" WHERE {_PROJECT} ORDER BY key",
        ),
        _custom_variable("window", ("1", "5", "10", "25", "50", "100"), "10"),
    ]
    by_run = {"transformations": [{"id": "partitionByValues", "options": {"fields": ["run"]}}]}
    step_axis = {"options": {"xField": "step"}, **by_run}
    # several logs may share a step (train, then val): the last one logged that has the key
    curve = f"""SELECT step, run_id AS run, argMax(metrics[${{key:singlequote}}], seq) AS value
FROM training_history FINAL
WHERE {_PROJECT} AND {_RUNS} AND mapContains(metrics, ${{key:singlequote}})
GROUP BY run, step
ORDER BY run, step"""
    smoothed = f"""SELECT step, run, avg(value) OVER (
           PARTITION BY run ORDER BY step ROWS BETWEEN ${{window}} - 1 PRECEDING AND CURRENT ROW
       ) AS value
FROM ({curve})
ORDER BY run, step"""
    runs = f"""SELECT r.run_id AS run_id, name, recipe, status, h.steps AS steps,
       h.last_step AS last_step, time AS started
FROM (SELECT * FROM training_runs FINAL WHERE {_PROJECT}) AS r
LEFT JOIN (
    SELECT run_id, uniqExact(step) AS steps, max(step) AS last_step FROM training_history FINAL
    WHERE {_PROJECT} GROUP BY run_id
) AS h ON h.run_id = r.run_id
ORDER BY started DESC"""
    configs = f"""SELECT run_id, name, config FROM training_runs FINAL
WHERE {_PROJECT} AND {_RUNS}
ORDER BY run_id"""
    panels = [
        _panel("${key} (raw)", curve, kind="trend", grid=(0, 0, 12, 10), extra=step_axis),
        _panel(
            "${key} (mean of ${window} steps)",
            smoothed,
            kind="trend",
            grid=(12, 0, 12, 10),
            extra=step_axis,
        ),
        _panel("Runs", runs, kind="table", grid=(0, 10, 24, 8)),
        _panel("Configs of the chosen runs", configs, kind="table", grid=(0, 18, 24, 8)),
    ]
    return _dashboard("meterstream-training", "meterstream — training", variables, panels)


DASHBOARDS: Final = {
    "inference.json": inference_dashboard,
    "training.json": training_dashboard,
}

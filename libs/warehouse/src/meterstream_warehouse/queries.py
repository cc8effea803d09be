"""First queries over the raw tables; parameters are always bound server-side."""

from __future__ import annotations

from typing import Any

from meterstream_derivations.sketch import quantile_sql
from meterstream_warehouse.base import Warehouse
from meterstream_warehouse.tables import EVENT_TABLES


def row_counts(warehouse: Warehouse) -> dict[str, int]:
    """Rows per table as queries see them: replays collapsed, registries at their latest."""
    counts: dict[str, int] = {}
    for spec in EVENT_TABLES.values():
        rows = warehouse.query_rows(f"SELECT count() AS n FROM {spec.name} FINAL")
        counts[spec.name] = int(rows[0]["n"])
    return counts


def latency_by_model(
    warehouse: Warehouse, *, project: str | None = None, minutes: int = 60
) -> list[dict[str, Any]]:
    """Per model over the last `minutes`: calls, error rate, p50/p95 latency and TTFT (ms)."""
    return warehouse.query_rows(
        """
        SELECT
            project,
            model,
            count() AS calls,
            round(countIf(status != 'ok') / count(), 4) AS error_rate,
            round(quantile(0.5)(latency_ms), 1) AS p50_latency_ms,
            round(quantile(0.95)(latency_ms), 1) AS p95_latency_ms,
            round(quantile(0.5)(ttft_ms), 1) AS p50_ttft_ms,
            round(quantile(0.95)(ttft_ms), 1) AS p95_ttft_ms
        FROM raw_completions FINAL
        WHERE time >= now64(6) - toIntervalMinute({minutes:UInt32})
          AND ({project:String} = '' OR project = {project:String})
        GROUP BY project, model
        ORDER BY project, model
        """,
        params={"minutes": minutes, "project": project or ""},
    )


RUN_TABLES = (
    "raw_training_steps",
    "raw_api_costs",
    "raw_gpu_costs",
    "training_history",
    "cost_ledger",
    "training_runs",
)


def delete_training_run(warehouse: Warehouse, *, project: str, run_id: str) -> None:
    """Remove every stored metric, cost and history row of one run."""
    for table in RUN_TABLES:
        warehouse.execute(
            f"DELETE FROM {table}"
            " WHERE project = {project:String} AND run_id = {run_id:String}",
            params={"project": project, "run_id": run_id},
        )


def inference_windows(
    warehouse: Warehouse,
    *,
    project: str,
    window_seconds: int,
    since_minutes: int = 60,
    quantiles: tuple[float, ...] = (0.5, 0.95, 0.99),
) -> list[dict[str, Any]]:
    """Rollup windows per model: partials merged (replays collapsed), quantiles from the bins."""
    latency = ", ".join(
        f"{quantile_sql('sumMap(latency_bins)', q)} AS p{round(q * 100)}_latency_ms"
        for q in quantiles
    )
    return warehouse.query_rows(
        f"""
        SELECT
            model,
            window_start,
            sum(count) AS calls,
            sumMap(errors) AS errors,
            sum(input_tokens) AS input_tokens,
            sum(output_tokens) AS output_tokens,
            sum(cost_usd) AS cost_usd,
            {latency}
        FROM inference_rollup_partials FINAL
        WHERE project = {{project:String}}
          AND window_seconds = {{window:UInt32}}
          AND window_start >= now64(3) - toIntervalMinute({{minutes:UInt32}})
        GROUP BY model, window_start
        ORDER BY model, window_start
        """,
        params={"project": project, "window": window_seconds, "minutes": since_minutes},
    )


def usage_totals(warehouse: Warehouse, *, project: str) -> list[dict[str, Any]]:
    """The latest cumulative totals of a project (model "") and of each of its models."""
    return warehouse.query_rows(
        """
        SELECT if(model = '', '(all models)', model) AS scope, count AS calls, errors,
               input_tokens, output_tokens, round(cost_usd, 6) AS cost_usd, revision, through
        FROM usage_totals FINAL
        WHERE project = {project:String}
        ORDER BY model != '', model
        """,
        params={"project": project},
    )


def cost_by_price_version(warehouse: Warehouse, *, project: str) -> list[dict[str, Any]]:
    """Spend per kind and price version from the cost ledger (re-pricing reversals net out)."""
    return warehouse.query_rows(
        """
        SELECT cost_kind, provider, model, price_version,
               sum(count) AS events, round(sum(cost_usd), 6) AS cost_usd
        FROM cost_ledger FINAL
        WHERE project = {project:String}
        GROUP BY cost_kind, provider, model, price_version
        HAVING events != 0
        ORDER BY cost_kind, provider, model, price_version
        """,
        params={"project": project},
    )


def training_history(
    warehouse: Warehouse, *, project: str, run_id: str, keys: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One row per step of a run with the chosen history keys (NaN-free: missing is NULL);
    where several logs share a step (train, then val), each key from the last one that has it."""
    columns = ", ".join(
        f"if(countIf(mapContains(metrics, {{k{i}:String}})) > 0,"
        f" argMaxIf(metrics[{{k{i}:String}}], seq, mapContains(metrics, {{k{i}:String}})),"
        f" NULL) AS c{i}"
        for i in range(len(keys))
    )
    params: dict[str, Any] = {"project": project, "run_id": run_id}
    params.update({f"k{i}": key for i, key in enumerate(keys)})
    rows = warehouse.query_rows(
        f"""
        SELECT step, {columns}
        FROM training_history FINAL
        WHERE project = {{project:String}} AND run_id = {{run_id:String}}
        GROUP BY step
        ORDER BY step
        """,
        params=params,
    )
    return [
        {"step": row["step"], **{key: row[f"c{i}"] for i, key in enumerate(keys)}} for row in rows
    ]


def alert_history(
    warehouse: Warehouse, *, project: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Alert transitions, newest first, each (dedup key, state) once."""
    return warehouse.query_rows(
        """
        SELECT min(time) AS time, rule_id, state, any(severity) AS severity,
               any(project) AS alert_project, any(`group`) AS labels, any(value) AS value,
               any(summary) AS summary, dedup_key
        FROM alerts FINAL
        WHERE {project:String} = '' OR alerts.project = {project:String}
        GROUP BY dedup_key, rule_id, state
        ORDER BY time DESC
        LIMIT {limit:UInt32}
        """,
        params={"project": project or "", "limit": limit},
    )

"""`meterstream query ...`: the query library from the command line (tables or JSON).

With embedded chDB the store must not be open in another process (stop the
API/sink first, or point MS_WAREHOUSE_* at a ClickHouse server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, cast

import orjson
import typer
from rich.console import Console
from rich.table import Table

from meterstream_query import (
    CostDimension,
    MetricRef,
    Period,
    QueryError,
    SeriesQuery,
    Smoothing,
    TimeRange,
    compare_runs,
    cost_report,
    delete_run,
    leaderboard,
    list_metrics,
    list_runs,
    metric_series,
    preference_win_rates,
    run_analyst_sql,
    run_history,
    run_table,
    unpriced_report,
)
from meterstream_query.grafana import DASHBOARDS
from meterstream_warehouse import Warehouse, WarehouseConfig, open_warehouse

query_app = typer.Typer(help="Time series, costs, feedback, training runs and SQL.")
console = Console()

Project = Annotated[str, typer.Option(help="The project to read.")]
Last = Annotated[str, typer.Option(help="How far back: 15m, 6h, 30d.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _warehouse() -> Iterator[Warehouse]:
    warehouse = open_warehouse(WarehouseConfig())
    try:
        yield warehouse
    except QueryError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from error
    finally:
        warehouse.close()


def _show(rows: list[dict[str, Any]], *, title: str, as_json: bool) -> None:
    if as_json:
        print(orjson.dumps(rows, default=str, option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title=title)
    for column in rows[0] if rows else ():
        table.add_column(column)
    for row in rows:
        table.add_row(*(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)


def _run(action: Callable[[Warehouse], list[dict[str, Any]]], title: str, as_json: bool) -> None:
    with _warehouse() as warehouse:
        _show(action(warehouse), title=title, as_json=as_json)


@query_app.command("metrics")
def metrics_command(project: Project, category: str | None = None, as_json: AsJson = False) -> None:
    """Metrics seen in a project (category: system, grader, user, custom, instrument)."""
    _run(lambda w: list_metrics(w, project=project, category=category), "metrics", as_json)  # type: ignore[arg-type]


@query_app.command("series")
def series_command(
    *,
    project: Project,
    metric: Annotated[str, typer.Argument(help="category:name, e.g. system:latency_ms")],
    agg: Annotated[str, typer.Option(help="count sum mean min max rate p50 p90 p95 p99")] = "mean",
    group_by: Annotated[list[str], typer.Option(help="model or label:<name>")] = [],  # noqa: B006
    interval: Annotated[int | None, typer.Option(help="Seconds per bucket.")] = None,
    last: Last = "1h",
    as_json: AsJson = False,
) -> None:
    """A metric's time series per group, one row per (group, bucket)."""

    def rows(warehouse: Warehouse) -> list[dict[str, Any]]:
        query = SeriesQuery(
            metric=MetricRef.parse(metric),
            aggregation=agg,  # type: ignore[arg-type]
            time_range=TimeRange.last(last),
            interval_s=interval,
            group_by=tuple(group_by),
        )
        result = metric_series(warehouse, project=project, query=query)
        return [
            {**series.group, "bucket": t, agg: value}
            for series in result.series
            for t, value in zip(series.times, series.values, strict=True)
        ]

    _run(rows, f"{metric} {agg}", as_json)


@query_app.command("costs")
def costs_command(
    project: Project,
    by: Annotated[
        list[str],
        typer.Option(help="model provider source split cost_kind run_id price_version cost_source"),
    ] = ["model"],  # noqa: B006
    per: Annotated[str, typer.Option(help="minute, hour or day")] = "hour",
    last: Last = "24h",
    as_json: AsJson = False,
) -> None:
    """Spend per period from the cost ledger, with the price versions used."""
    _run(
        lambda w: cost_report(
            w,
            project=project,
            time_range=TimeRange.last(last),
            by=cast(tuple[CostDimension, ...], tuple(by)),
            per=cast(Period, per),
        ),
        "costs",
        as_json,
    )


@query_app.command("unpriced")
def unpriced_command(project: Project, last: Last = "24h", as_json: AsJson = False) -> None:
    """Calls no price was known for, per provider and model (set their price with
    `meterstream costs set-price`, then `meterstream costs reprice`)."""
    _run(
        lambda w: unpriced_report(w, project=project, time_range=TimeRange.last(last)),
        "unpriced calls",
        as_json,
    )


@query_app.command("leaderboard")
def leaderboard_command(
    project: Project, key: str, last: Last = "24h", as_json: AsJson = False
) -> None:
    """Models ranked by a feedback key, honouring higher/lower-is-better."""
    _run(
        lambda w: leaderboard(w, project=project, key=key, time_range=TimeRange.last(last))[
            "models"
        ],
        f"leaderboard: {key}",
        as_json,
    )


@query_app.command("win-rates")
def win_rates_command(
    project: Project, key: str, last: Last = "24h", as_json: AsJson = False
) -> None:
    """Preference win rates per model."""
    _run(
        lambda w: preference_win_rates(
            w, project=project, key=key, time_range=TimeRange.last(last)
        )["models"],
        f"win rates: {key}",
        as_json,
    )


@query_app.command("runs")
def runs_command(
    project: Project, search: str = "", limit: int = 50, offset: int = 0, as_json: AsJson = False
) -> None:
    """Training runs, newest first, filtered by a search term."""
    _run(
        lambda w: list_runs(w, project=project, search=search, limit=limit, offset=offset)["runs"],
        "runs",
        as_json,
    )


@query_app.command("history")
def history_command(
    *,
    project: Project,
    run_ids: Annotated[list[str], typer.Argument(help="One run, or several to compare.")],
    key: Annotated[str, typer.Option(help="History key, e.g. train/reward.")],
    smoothing: Annotated[str, typer.Option(help="none ema sma gaussian")] = "none",
    amount: float = 0.6,
    max_points: int = 50,
    as_json: AsJson = False,
) -> None:
    """A run's curve (or several runs' curves and their config diff), smoothed at full
    resolution, then cut to `max_points` buckets."""
    chosen = Smoothing(smoothing, amount)  # type: ignore[arg-type]

    def rows(warehouse: Warehouse) -> list[dict[str, Any]]:
        if len(run_ids) == 1:
            runs = [
                run_history(
                    warehouse,
                    project=project,
                    run_id=run_ids[0],
                    keys=[key],
                    smoothing=chosen,
                    max_points=max_points,
                )
            ]
        else:
            compared = compare_runs(
                warehouse,
                project=project,
                run_ids=run_ids,
                keys=[key],
                smoothing=chosen,
                max_points=max_points,
            )
            runs = compared["runs"]
            _show(
                [d for d in compared["config_diff"] if d["differs"]],
                title="config diff",
                as_json=as_json,
            )
        return [
            {"run_id": run["run_id"], "step": step, "value": value, "smoothed": smooth}
            for run in runs
            for step, value, smooth in zip(
                run["curves"][key]["steps"],
                run["curves"][key]["values"],
                run["curves"][key]["smoothed"],
                strict=True,
            )
        ]

    _run(rows, f"history: {key}", as_json)


@query_app.command("table")
def table_command(
    *, project: Project, run_id: str, table: str, search: str = "", limit: int = 20, offset: int = 0
) -> None:
    """Rows of a table logged at a run's steps."""
    with _warehouse() as warehouse:
        page = run_table(
            warehouse,
            project=project,
            run_id=run_id,
            table=table,
            search=search,
            limit=limit,
            offset=offset,
        )
    _show(
        [dict(zip(page["columns"], row, strict=True)) for row in page["rows"]],
        title=f"{table}: {page['total']} rows",
        as_json=False,
    )


@query_app.command("delete-run")
def delete_run_command(project: Project, run_id: str) -> None:
    """Delete a training run and every metric, cost and history row of it."""
    with _warehouse() as warehouse:
        delete_run(warehouse, project=project, run_id=run_id)
    console.print(f"deleted run {run_id} of {project}")


@query_app.command("sql")
def sql_command(
    project: Project,
    sql: str,
    param: Annotated[list[str], typer.Option(help="name=value for {name:Type}")] = [],  # noqa: B006
    as_json: AsJson = False,
) -> None:
    """A read-only SELECT over the project's own rows (parameters bound by ClickHouse)."""
    params = dict(item.partition("=")[::2] for item in param)
    _run(
        lambda w: run_analyst_sql(w, project=project, sql=sql, params=params)["rows"],
        "sql",
        as_json,
    )


@query_app.command("grafana-dashboards")
def grafana_dashboards_command(
    out: Annotated[Path, typer.Option(help="Where Grafana's provisioning reads them.")] = Path(
        "infra/grafana/dashboards"
    ),
) -> None:
    """Write the Grafana dashboards (inference, training) built from the query layer's SQL."""
    out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        text = orjson.dumps(build(), option=orjson.OPT_INDENT_2) + b"\n"
        (out / name).write_bytes(text)
        console.print(f"wrote {out / name}")

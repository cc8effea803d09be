"""The demo's last step: a few answers of the query API and the dashboard's links."""

from __future__ import annotations

import time
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

DEMO_PROJECTS = ("demo-chat", "demo-rl")


def _get(url: str, key: str, path: str, **params: Any) -> Any:
    response = httpx.get(
        f"{url}/api/v1/{path}",
        params=params,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def _print(
    console: Console, title: str, rows: list[dict[str, Any]], columns: tuple[str, ...]
) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(f"{row[c]:.4g}" if isinstance(row[c], float) else str(row[c]) for c in columns)
        )
    console.print(table)


def print_query_results(console: Console, url: str, keys: dict[str, str]) -> None:
    """A few answers of the HTTP query API, as the dashboard asks for them."""
    chat, rl = keys["demo-chat"], keys["demo-rl"]
    latency = _get(
        url, chat, "series", metric="system:latency_ms", agg="p95", group_by="model", last="15m"
    )
    rows = [
        {"model": s["group"]["model"], "buckets": len(s["times"]), "last p95 ms": s["values"][-1]}
        for s in latency["series"]
    ]
    _print(
        console,
        f"API: p95 latency per model, last 15 min ({latency['source']} data)",
        rows,
        ("model", "buckets", "last p95 ms"),
    )
    costs = _get(url, chat, "costs", by="model", per="hour", last="1h")
    _print(
        console, "API: cost per hour per model", costs, ("period", "model", "events", "cost_usd")
    )
    board = _get(url, chat, "feedback/helpfulness/leaderboard", last="1h")
    _print(
        console,
        f"API: helpfulness leaderboard ({board['scoring']})",
        board["models"],
        ("rank", "model", "mean", "count"),
    )
    runs = _get(url, rl, "runs")["runs"]
    _print(console, "API: training runs", runs, ("run_id", "name", "steps", "status"))


def show_dashboard(console: Console, url: str, keys: dict[str, str], *, keep_serving: bool) -> int:
    """A few answers of the running API, the dashboard's links, then (on a terminal) keep
    the pipeline and its dashboard live until Ctrl-C."""
    try:
        print_query_results(console, url, keys)
    except httpx.HTTPError as error:
        console.print(f"[red]the query API did not answer: {error}[/]")
        return 1
    console.print("[bold]dashboard[/] (one key per project):")
    for project, key in keys.items():
        console.print(f"  {project}: {url}/#key={key}")
    if keep_serving:
        console.print(
            "the pipeline and the dashboard stay live until Ctrl-C"
            " (meterstream status, meterstream query ..., meterstream reconcile work meanwhile)"
        )
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0

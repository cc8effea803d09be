"""`meterstream alerts ...`: check rule files, list the rules, the history, and tail the topic."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from meterstream_alerting.rules import InvalidRules, RuleFile, load_rules, shipped_rules
from meterstream_cli.alert_config_commands import rule_app, silence_app
from meterstream_contracts import split_envelope
from meterstream_contracts.derived import AlertEvent
from meterstream_kafka import KafkaConfig
from meterstream_warehouse import WarehouseConfig, open_warehouse
from meterstream_warehouse.queries import alert_history

alerts_app = typer.Typer(help="Alert rules, alert history and the live alert stream.")
alerts_app.add_typer(rule_app, name="rule")
alerts_app.add_typer(silence_app, name="silence")
console = Console()
RulesFile = Annotated[Path | None, typer.Argument(help="YAML rule file (default: the examples).")]


def _load(path: Path | None) -> RuleFile:
    try:
        return shipped_rules() if path is None else load_rules(path)
    except InvalidRules as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(2) from error


@alerts_app.command("check")
def alerts_check(file: RulesFile = None) -> None:
    """Validate a rule file; exit 2 naming every bad field."""
    rules = _load(file)
    console.print(f"{len(rules.rules)} rule(s), {len(rules.silences)} silence(s): valid")


@alerts_app.command("rules")
def alerts_rules(file: RulesFile = None) -> None:
    table = Table(title="alert rules")
    for column in ("id", "source", "metric", "condition", "when", "for", "severity"):
        table.add_column(column)
    for rule in _load(file).rules:
        when = {
            "absence": f"silent {rule.absent_for_s:g} s",
            "drift": f"> {rule.threshold:g} from the last {rule.baseline_points}",
        }.get(rule.condition, f"{rule.comparator} {rule.threshold:g}")
        table.add_row(
            rule.id,
            rule.source,
            rule.metric,
            rule.condition,
            when,
            f"{rule.for_s:g} s",
            rule.severity,
        )
    console.print(table)


@alerts_app.command("list")
def alerts_list(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    limit: Annotated[int, typer.Option(help="Newest transitions shown.")] = 50,
) -> None:
    """Alert history from ClickHouse, newest first."""
    warehouse = open_warehouse(WarehouseConfig())
    try:
        rows = alert_history(warehouse, project=project, limit=limit)
    finally:
        warehouse.close()
    print_alerts(console, rows)


def print_alerts(out: Console, rows: list[dict[str, object]]) -> None:
    table = Table(title="alerts")
    for column in ("time", "rule_id", "state", "severity", "labels", "value"):
        table.add_column(column)
    for row in rows:
        value = row["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else ""
        table.add_row(
            str(row["time"]),
            str(row["rule_id"]),
            str(row["state"]),
            str(row["severity"]),
            str(row["labels"]),
            shown,
        )
    out.print(table)


@alerts_app.command("tail")
def alerts_tail(
    seconds: Annotated[float, typer.Option(help="Stop after this long (0: until Ctrl-C).")] = 0,
) -> None:
    """Print alert transitions as they are published."""
    asyncio.run(_tail(KafkaConfig(), seconds))


async def _tail(kafka: KafkaConfig, seconds: float) -> None:
    consumer = AIOKafkaConsumer(
        "meterstream.alerts", bootstrap_servers=kafka.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds if seconds else None
    try:
        while deadline is None or loop.time() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                for message in messages:
                    for line in split_envelope(message.value or b""):
                        alert = AlertEvent.model_validate_json(line)
                        console.print(
                            f"{alert.time:%H:%M:%S} [bold]{alert.state}[/] {alert.rule_id}"
                            f" [{alert.severity}] {alert.group} value={alert.value}"
                        )
    finally:
        await consumer.stop()

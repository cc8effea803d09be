"""`meterstream alerts rule ...` and `meterstream alerts silence ...`: a project's own rules
and silences, published on the alert_config registry (running workers apply them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml
from rich.console import Console
from rich.table import Table

from meterstream_alerting import config_registry as registry
from meterstream_alerting.managed import managed_rule
from meterstream_alerting.rules import InvalidRules
from meterstream_kafka import KafkaConfig
from meterstream_query import QueryError, parse_duration

rule_app = typer.Typer(help="A project's own alert rules (applied by running workers).")
silence_app = typer.Typer(help="Silences: alerts still recorded, notifications held back.")
console = Console()
Project = Annotated[str, typer.Option(help="The project the rules belong to.")]


def _fail(error: Exception) -> None:
    console.print(f"[red]{error}[/]")
    raise typer.Exit(2)


def _rules_in(path: Path) -> list[dict[str, Any]]:
    """A YAML/JSON file holding one rule, a list of rules, or `rules: [...]`."""
    try:
        loaded: Any = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise InvalidRules(f"{path}: not YAML ({error})") from error
    if isinstance(loaded, dict) and "rules" in loaded:
        loaded = loaded["rules"]
    rules = loaded if isinstance(loaded, list) else [loaded]
    if not all(isinstance(rule, dict) and rule.get("id") for rule in rules):
        raise InvalidRules(f"{path}: every rule needs an id", ("id",))
    return rules


@rule_app.command("put")
def rule_put(
    project: Project,
    file: Annotated[Path, typer.Argument(help="YAML: one rule, a list, or `rules: [...]`.")],
    author: Annotated[str, typer.Option(help="Who changed it (kept with the rule).")] = "",
) -> None:
    """Create or replace rules; nothing is published when any rule is invalid."""
    try:
        specs = _rules_in(file)
        for spec in specs:
            managed_rule(project, str(spec["id"]), spec)
    except InvalidRules as error:
        _fail(error)

    async def publish() -> None:
        for spec in specs:
            await registry.put_rule(KafkaConfig(), project, str(spec["id"]), spec, author=author)

    asyncio.run(publish())
    console.print(f"published {len(specs)} rule(s) for {project}")


@rule_app.command("list")
def rule_list(project: Project) -> None:
    """The project's rules in force (the deployment's rule file is listed by `alerts rules`)."""
    rules = asyncio.run(registry.project_config(KafkaConfig(), project, "rule"))
    table = Table(title=f"rules of {project}")
    for column in ("id", "source", "metric", "condition", "threshold", "for", "changed by"):
        table.add_column(column)
    for ident, record in sorted(rules.items()):
        spec = record["spec"]
        table.add_row(
            ident,
            str(spec.get("source")),
            str(spec.get("metric", "count")),
            str(spec.get("condition", "threshold")),
            f"{spec.get('comparator', '>')} {spec.get('threshold', 0)}",
            f"{spec.get('for_s', 0)} s",
            str(record.get("author", "")),
        )
    console.print(table)


@rule_app.command("delete")
def rule_delete(project: Project, rule_id: str) -> None:
    try:
        asyncio.run(registry.delete_item(KafkaConfig(), project, "rule", rule_id))
    except registry.UnknownItem as error:
        _fail(error)
    console.print(f"deleted rule {rule_id} of {project}")


@silence_app.command("add")
def silence_add(
    project: Project,
    duration: Annotated[str, typer.Option("--for", help="How long: 30m, 2h, 1d.")],
    rule: Annotated[str | None, typer.Option(help="Only this rule (all when unset).")] = None,
    match: Annotated[list[str], typer.Option(help="label=value of the alerts to hold.")] = [],  # noqa: B006
    comment: str = "",
) -> None:
    """Hold back notifications of the project's alerts (matching rule and labels)."""
    try:
        seconds = parse_duration(duration, field="for")
        matchers = dict(item.split("=", 1) for item in match if "=" in item)
        if len(matchers) != len(match):
            raise InvalidRules(f"--match {match}: each must be label=value", ("matchers",))
        until = datetime.now(UTC) + timedelta(seconds=seconds)
        spec = {"rule": rule, "matchers": matchers, "until": until.isoformat(), "comment": comment}
        ident, _ = asyncio.run(registry.put_silence(KafkaConfig(), project, spec))
    except (InvalidRules, QueryError) as error:
        _fail(error)
    console.print(f"silence {ident} for {project} until {until:%Y-%m-%d %H:%M:%S} UTC")


@silence_app.command("list")
def silence_list(project: Project, as_json: bool = False) -> None:
    silences = asyncio.run(registry.project_config(KafkaConfig(), project, "silence"))
    if as_json:
        console.print_json(orjson.dumps(silences).decode())
        return
    table = Table(title=f"silences of {project}")
    for column in ("id", "rule", "matchers", "until", "comment"):
        table.add_column(column)
    for ident, record in sorted(silences.items()):
        spec = record["spec"]
        table.add_row(
            ident,
            str(spec.get("rule") or "(all)"),
            str(spec.get("matchers", {})),
            str(spec.get("until")),
            str(spec.get("comment", "")),
        )
    console.print(table)


@silence_app.command("remove")
def silence_remove(project: Project, silence_id: str) -> None:
    try:
        asyncio.run(registry.delete_item(KafkaConfig(), project, "silence", silence_id))
    except registry.UnknownItem as error:
        _fail(error)
    console.print(f"removed silence {silence_id} of {project}")

"""`meterstream definitions ...` and `meterstream costs ...`."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import orjson
import typer
import yaml
from rich.console import Console
from rich.table import Table

from meterstream_cli import registry_ops as ops
from meterstream_contracts import ModelPrice
from meterstream_kafka import KafkaConfig
from meterstream_pricing import UnknownModelPrice
from meterstream_workers.config import WorkerConfig

definitions_app = typer.Typer(help="Metric definitions evaluated on each event.")
costs_app = typer.Typer(help="Prices, the cost ledger and re-pricing.")
console = Console()

Project = Annotated[str, typer.Option(help="The project the definitions belong to.")]


def _fail(error: Exception) -> NoReturn:
    console.print(f"[red]{error}[/]")
    raise typer.Exit(2)


@definitions_app.command("put")
def definitions_put(
    file: Annotated[Path, typer.Argument(help="YAML or JSON: one definition or a list.")],
) -> None:
    """Create or replace definitions in bulk; nothing is published if any is invalid."""
    loaded: Any = yaml.safe_load(file.read_text())
    records = loaded if isinstance(loaded, list) else [loaded]
    try:
        count = asyncio.run(ops.put_definitions(KafkaConfig(), records))
    except ops.RegistryError as error:
        _fail(error)
    console.print(f"published {count} definition(s)")


@definitions_app.command("create")
def definitions_create(
    *,
    project: Project,
    definition_id: Annotated[str, typer.Option("--id", help="Stable id of the definition.")],
    name: Annotated[str, typer.Option(help="Metric key the results are logged under.")],
    expression: Annotated[str | None, typer.Option(help="A custom expression.")] = None,
    predefined: Annotated[str | None, typer.Option(help="A predefined metric.")] = None,
    grader_key: Annotated[str | None, typer.Option(help="Judge results of this key.")] = None,
    applies_to: Annotated[str, typer.Option(help="Event kind evaluated.")] = "completion",
    scoring: Annotated[str, typer.Option(help="higher_is_better | lower_is_better")] = (
        "higher_is_better"
    ),
) -> None:
    """Create one definition: custom (--expression), predefined or judge (--grader-key)."""
    kind = "custom" if expression else "predefined" if predefined else "judge"
    record = {
        "project": project,
        "definition_id": definition_id,
        "name": name,
        "definition_type": kind,
        "expression": expression,
        "predefined": predefined,
        "grader_key": grader_key,
        "applies_to": applies_to,
        "scoring": scoring,
    }
    try:
        asyncio.run(ops.put_definitions(KafkaConfig(), [record]))
    except ops.RegistryError as error:
        _fail(error)
    console.print(f"created {definition_id}")


@definitions_app.command("list")
def definitions_list(project: Project) -> None:
    current = asyncio.run(ops.definitions(KafkaConfig(), project))
    table = Table(title=f"metric definitions of {project}")
    for column in ("id", "name", "type", "applies to", "source", "active"):
        table.add_column(column)
    for ident, r in sorted(current.items()):
        source = r.get("expression") or r.get("predefined") or r.get("grader_key") or ""
        kind, applies = str(r["definition_type"]), str(r.get("applies_to", "completion"))
        table.add_row(ident, str(r["name"]), kind, applies, str(source), str(r.get("active", True)))
    console.print(table)


def _change(project: str, definition_id: str, **changes: Any) -> None:
    try:
        asyncio.run(ops.change_definition(KafkaConfig(), project, definition_id, **changes))
    except ops.RegistryError as error:
        _fail(error)
    console.print(f"{definition_id}: {changes}")


@definitions_app.command("toggle")
def definitions_toggle(
    definition_id: str,
    project: Project,
    active: Annotated[bool, typer.Option("--on/--off", help="Switch on or off.")] = True,
) -> None:
    _change(project, definition_id, active=active)


@definitions_app.command("update")
def definitions_update(
    definition_id: str,
    project: Project,
    expression: Annotated[str | None, typer.Option()] = None,
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    changes = {k: v for k, v in {"expression": expression, "name": name}.items() if v}
    _change(project, definition_id, **changes)


@definitions_app.command("delete")
def definitions_delete(definition_id: str, project: Project) -> None:
    _change(project, definition_id, deleted=True)


@costs_app.command("set-price")
def costs_set_price(
    name: Annotated[str, typer.Argument(help="provider/model, e.g. openai/gpt-4o")],
    *,
    prompt: Annotated[float, typer.Option(help="USD per million input tokens.")],
    completion: Annotated[float, typer.Option(help="USD per million output tokens.")],
    cached: Annotated[float | None, typer.Option(help="USD per million cached tokens.")] = None,
    effective_from: Annotated[str, typer.Option(help="YYYY-MM-DD")] = "1970-01-01",
    project: Annotated[str, typer.Option(help="Who publishes the price.")] = "default",
) -> None:
    """Publish a price version to the shared registry (then `costs reprice` for the past)."""
    provider, _, model = name.partition("/")
    if not model:
        _fail(ValueError("name: expected provider/model"))
    price = ModelPrice(
        project=project,
        provider=provider,
        model=model,
        effective_from=date.fromisoformat(effective_from),
        prompt_per_million=prompt,
        completion_per_million=completion,
        cached_prompt_per_million=cached,
    )
    console.print(f"published {asyncio.run(ops.set_price(KafkaConfig(), price))}")


@costs_app.command("prices")
def costs_prices() -> None:
    registry = asyncio.run(ops.pricing_registry(KafkaConfig()))
    table = Table(title="prices (USD per million tokens)")
    for column in ("version", "prompt", "completion", "cached prompt"):
        table.add_column(column)
    for price in registry.prices():
        cached = price.cached_prompt_per_million
        table.add_row(
            price.version,
            f"{price.prompt_per_million:g}",
            f"{price.completion_per_million:g}",
            "" if cached is None else f"{cached:g}",
        )
    console.print(table)


@costs_app.command("price")
def costs_price(
    name: Annotated[
        str,
        typer.Argument(
            help="provider/model as calls name it, e.g. anthropic/claude-sonnet-4-20250514"
        ),
    ],
    *,
    at: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: now)")] = None,
) -> None:
    """What prices a model's calls: our registry's override, else the catalogue's entry,
    with its rates per million tokens and its tiers."""
    provider, _, model = name.partition("/")
    if not model:
        _fail(ValueError("name: expected provider/model"))
    moment = datetime.now(UTC) if at is None else datetime.fromisoformat(at).replace(tzinfo=UTC)
    registry = asyncio.run(ops.pricing_registry(KafkaConfig()))
    try:
        price = registry.price_at(provider, model, moment)
    except UnknownModelPrice as error:
        _fail(error)
    table = Table(title=f"{price.version} ({price.source})")
    for column in (
        "tier",
        "input",
        "cache read",
        "cache write",
        "1 h write",
        "output",
        "reasoning",
    ):
        table.add_column(column)
    for threshold, tier in ((0, price), *price.tiers):
        table.add_row(
            "base" if tier is price else f"> {threshold:,} input tokens",
            *(
                "" if value is None else f"{value:g}"
                for value in (
                    tier.prompt_per_million,
                    tier.cached_prompt_per_million,
                    tier.cache_write_per_million,
                    tier.cache_write_1h_per_million,
                    tier.completion_per_million,
                    tier.reasoning_per_million,
                )
            ),
        )
    console.print(table)
    if price.per_call_usd:
        console.print(f"plus {price.per_call_usd:g} USD per call")


@costs_app.command("reprice")
def costs_reprice(
    provider: Annotated[str | None, typer.Option(help="Only this provider.")] = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    dry_run: Annotated[bool, typer.Option(help="Report, publish nothing.")] = False,
) -> None:
    """Re-price the ledger's history with today's registry (reversal + new charge per slice)."""
    only = {
        k: v for k, v in {"provider": provider, "model": model, "project": project}.items() if v
    }
    report = asyncio.run(
        ops.reprice(
            KafkaConfig(),
            windows=sorted(WorkerConfig().window_seconds),
            only=only,
            dry_run=dry_run,
        )
    )
    verb = "would re-price" if dry_run else "re-priced"
    console.print(
        f"{verb} {report.slices} slice(s): {len(report.plan.ledger)} ledger line(s), "
        f"{len(report.plan.adjustments)} window adjustment(s), "
        f"change {report.delta_usd:+.9f} USD"
    )
    if report.plan.ledger:
        console.print_json(
            orjson.dumps(
                sorted({e.price_version for e in report.plan.ledger if e.count > 0})
            ).decode()
        )

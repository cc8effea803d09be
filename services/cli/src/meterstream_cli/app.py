"""`meterstream`: the single command-line entry point."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from meterstream_cli.alert_commands import alerts_app
from meterstream_cli.dlq_commands import dlq_app
from meterstream_cli.infra_commands import broker_app, topics_app, warehouse_app
from meterstream_cli.query_commands import query_app
from meterstream_cli.registry_commands import costs_app, definitions_app
from meterstream_cli.stack_commands import down, status, up
from meterstream_contracts.schemas import write_json_schemas
from meterstream_query.reconcile import CHECKS, report
from meterstream_query.reconcile import reconcile as run_reconcile
from meterstream_warehouse import WarehouseConfig, WarehouseError, open_warehouse

app = typer.Typer(
    name="meterstream",
    help="Event-streaming ingestion pipeline for the metrics of LLM systems.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
schemas_app = typer.Typer(help="Event contracts as JSON Schema.")
sink_app = typer.Typer(help="The ClickHouse sink service.")
gateway_app = typer.Typer(help="The HTTP ingest gateway and OTLP receiver.")
workers_app = typer.Typer(help="The faust stream workers (derived streams).")
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(schemas_app, name="schemas")
app.add_typer(sink_app, name="sink")
app.add_typer(gateway_app, name="gateway")
app.add_typer(workers_app, name="workers")
app.add_typer(definitions_app, name="definitions")
app.add_typer(costs_app, name="costs")
app.add_typer(alerts_app, name="alerts")
app.add_typer(query_app, name="query")
app.add_typer(dlq_app, name="dlq")
app.command("up")(up)
app.command("down")(down)
app.command("status")(status)
console = Console()


@schemas_app.command("export")
def schemas_export(
    out: Annotated[Path, typer.Option(help="Folder to write <kind>.schema.json into.")] = Path(
        "schemas"
    ),
) -> None:
    """Write a JSON Schema for every event and derived record, for non-Python producers."""
    for path in write_json_schemas(out):
        console.print(str(path))


@sink_app.command("run")
def sink_run() -> None:
    """Consume every raw topic into ClickHouse until SIGTERM/SIGINT (settings: MS_SINK_*)."""
    from meterstream_kafka import KafkaConfig
    from meterstream_sink.config import SinkConfig
    from meterstream_sink.main import run_sink
    from meterstream_warehouse import WarehouseConfig

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(run_sink(SinkConfig(), KafkaConfig(), WarehouseConfig()))


@workers_app.command("run")
def workers_run() -> None:
    """Run the rollup workers until SIGTERM (settings: MS_WORKER_*, MS_KAFKA_*)."""
    from meterstream_workers.main import main as run_workers

    run_workers()


@gateway_app.command("run")
def gateway_run() -> None:
    """Serve /v1/events, /v1/metrics (OTLP), /v1/keys, /healthz, /metrics (MS_GATEWAY_*)."""
    from meterstream_gateway.main import main as run_gateway

    run_gateway()


@gateway_app.command("add-key")
def gateway_add_key(
    project: Annotated[str, typer.Option(help="The project the key may write.")],
    file: Annotated[Path, typer.Option(help="Key hashes file (MS_GATEWAY_API_KEYS_FILE).")] = Path(
        ".meterstream/api-keys.jsonl"
    ),
) -> None:
    """Create an API key for PROJECT; only its SHA-256 is stored. The key is printed once."""
    from meterstream_contracts.api_keys import append_key

    key = append_key(file, project)
    console.print(f"API key for [bold]{project}[/] (store it now, it is not kept): {key}")
    console.print(
        f"its hash was added to {file}; run the gateway with MS_GATEWAY_API_KEYS_FILE={file}"
    )


@app.command()
def demo(
    *,
    seconds: Annotated[float, typer.Option(min=1, help="How long to send traffic.")] = 15,
    rate: Annotated[int, typer.Option(min=10, help="Completions per second.")] = 2000,
    local_broker: Annotated[
        bool, typer.Option(help="Start the local Apache Kafka broker (else MS_KAFKA_*).")
    ] = True,
    local_clickhouse: Annotated[
        bool, typer.Option(help="Start the local ClickHouse server (else MS_WAREHOUSE_URL).")
    ] = True,
    state_dir: Annotated[Path, typer.Option(help="Logs and the stack's state.")] = Path(
        ".meterstream"
    ),
    serve: Annotated[
        bool | None,
        typer.Option(help="Keep serving the dashboard until Ctrl-C (default: on a terminal)."),
    ] = None,
) -> None:
    """Bring the whole pipeline up (as `meterstream up`), send realistic traffic for a bounded
    time, print what landed and a few answers of the query API, and keep the dashboard live
    while the pipeline runs (on a terminal, until Ctrl-C); then stop it in order."""
    from meterstream_cli.demo import run_demo

    code = run_demo(
        seconds=seconds,
        completions_per_s=rate,
        use_local_broker=local_broker,
        use_local_clickhouse=local_clickhouse,
        state_dir=state_dir,
        console=console,
        keep_serving=sys.stdin.isatty() and os.environ.get("CI") is None
        if serve is None
        else serve,
    )
    raise typer.Exit(code)


@app.command()
def reconcile(
    project: Annotated[str | None, typer.Option(help="Only this project.")] = None,
    check: Annotated[
        list[str] | None, typer.Option(help="Only these checks (repeat): " + ", ".join(CHECKS))
    ] = None,
) -> None:
    """Recompute the derived numbers from the raw events in ClickHouse and compare them with
    the stored ones; exit 1 with the differences (run once the pipeline has drained)."""
    unknown = sorted(set(check or ()) - set(CHECKS))
    if unknown:
        console.print(f"[red]--check: unknown {', '.join(unknown)}; one of {', '.join(CHECKS)}[/]")
        raise typer.Exit(2)
    warehouse = open_warehouse(WarehouseConfig())
    try:
        results = run_reconcile(warehouse, project=project, checks=check or tuple(CHECKS))
    except WarehouseError as error:
        console.print(f"[red]{str(error).splitlines()[0]}[/] (is the store migrated?)")
        raise typer.Exit(2) from error
    finally:
        warehouse.close()
    console.print(report(results), highlight=False, markup=False)
    raise typer.Exit(0 if all(result.ok for result in results) else 1)


def main() -> None:
    app()

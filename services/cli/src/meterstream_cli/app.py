"""`meterstream`: the single command-line entry point."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from meterstream_cli.infra_commands import broker_app, topics_app, warehouse_app
from meterstream_contracts.schemas import write_json_schemas

app = typer.Typer(
    name="meterstream",
    help="Event-streaming ingestion pipeline for the metrics of LLM systems.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
schemas_app = typer.Typer(help="Event contracts as JSON Schema.")
sink_app = typer.Typer(help="The ClickHouse sink service.")
app.add_typer(broker_app, name="broker")
app.add_typer(topics_app, name="topics")
app.add_typer(warehouse_app, name="warehouse")
app.add_typer(schemas_app, name="schemas")
app.add_typer(sink_app, name="sink")
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


@app.command()
def demo(
    seconds: Annotated[float, typer.Option(min=1, help="How long to send traffic.")] = 15,
    rate: Annotated[int, typer.Option(min=10, help="Completions per second.")] = 2000,
    local_broker: Annotated[
        bool, typer.Option(help="Start the local Apache Kafka broker (else use MS_KAFKA_*).")
    ] = True,
    sink: Annotated[
        bool, typer.Option(help="Run the sink as a child process (off when one runs already).")
    ] = True,
    state_dir: Annotated[Path, typer.Option(help="Logs and embedded data.")] = Path(".meterstream"),
) -> None:
    """Run broker + sink, send realistic traffic for a bounded time, print what landed."""
    from meterstream_cli.demo import run_demo

    code = run_demo(
        seconds=seconds,
        completions_per_s=rate,
        use_local_broker=local_broker,
        run_sink=sink,
        state_dir=state_dir,
        console=console,
    )
    raise typer.Exit(code)


def main() -> None:
    app()

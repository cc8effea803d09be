"""`meterstream up`, `down` and `status`: the local stack from the command line."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from meterstream_cli.stack import (
    LocalStack,
    StackError,
    StackPlan,
    StackState,
    alive,
    state_file,
)
from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, group_lag
from meterstream_warehouse import WarehouseConfig, WarehouseError, open_warehouse
from meterstream_workers.topics import CONSUMED_TOPICS

console = Console(soft_wrap=True)
STATE_DIR = Path(".meterstream/stack")
FRESHNESS_SQL = (
    "SELECT count() AS events,"
    " quantile(0.5)(dateDiff('millisecond', time, ingested_at)) AS p50_ms,"
    " quantile(0.99)(dateDiff('millisecond', time, ingested_at)) AS p99_ms"
    " FROM raw_completions WHERE ingested_at > now64(3) - INTERVAL {minutes:UInt32} MINUTE"
)


def print_settings(state: StackState) -> None:
    """Where everything is, and what a user's app sets to send to it."""
    project, key = next(iter(state.api_keys.items()))
    console.print(f"[bold]meterstream is up[/] for project [bold]{project}[/]")
    for other, other_key in state.api_keys.items():
        console.print(f"  dashboard      {state.api_url}/#key={other_key}   ({other})")
    console.print(f"  query API      {state.api_url}/docs   (Authorization: Bearer {key})")
    console.print(f"  gateway        {state.gateway_url}/v1/events   (Authorization: Bearer {key})")
    console.print(f"  Kafka          {state.kafka}")
    console.print(f"  ClickHouse     {state.clickhouse}   (analysts: user analyst)")
    console.print("your app's settings:")
    console.print(f"  SDK            MS_KAFKA_BOOTSTRAP_SERVERS={state.kafka}")
    console.print(f'                 Client(project="{project}")')
    console.print(f"  OTLP/HTTP      OTEL_EXPORTER_OTLP_ENDPOINT={state.gateway_url}")
    console.print("                 OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf")
    console.print(f"  OTLP/gRPC      OTEL_EXPORTER_OTLP_ENDPOINT=http://{state.otlp_grpc}")
    console.print(f"  either         OTEL_EXPORTER_OTLP_HEADERS=authorization=Bearer%20{key}")
    console.print(f"                 (on this machine a request without a key writes {project})")
    console.print(f"logs in {STATE_DIR / 'logs'}; stop with Ctrl-C or `meterstream down`")


def up(  # noqa: PLR0917 (typer reads the options from the parameters)
    project: Annotated[
        list[str] | None,
        typer.Option(help="A project to make an API key for (repeat; default: local)."),
    ] = None,
    gateway_port: Annotated[int, typer.Option(help="The gateway's port.")] = 8080,
    api_port: Annotated[int, typer.Option(help="The query API's and dashboard's port.")] = 8090,
    otlp_grpc_port: Annotated[int, typer.Option(help="The OTLP/gRPC port.")] = 4317,
    local_broker: Annotated[
        bool, typer.Option(help="Start the local Apache Kafka broker (else MS_KAFKA_*).")
    ] = True,
    brokers: Annotated[
        int,
        typer.Option(
            min=1,
            max=9,
            help="Nodes of the local Kafka cluster, each its own process (3: every topic"
            " replicated 3 times, 2 replicas in sync for a write).",
        ),
    ] = 1,
    local_clickhouse: Annotated[
        bool, typer.Option(help="Start the local ClickHouse server (else MS_WAREHOUSE_URL).")
    ] = True,
) -> None:
    """Start the whole pipeline on this machine and supervise it until Ctrl-C or
    `meterstream down`, which stop it in order with nothing lost."""
    plan = StackPlan(
        state_dir=STATE_DIR,
        projects=tuple(project or ["local"]),
        gateway_port=gateway_port,
        api_port=api_port,
        otlp_grpc_port=otlp_grpc_port,
        local_broker=local_broker,
        brokers=brokers,
        local_clickhouse=local_clickhouse,
    )
    stack = LocalStack(plan)
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _: stopping.append(number))
    code = 1
    try:
        print_settings(stack.start(say=console.print))
    except StackError as error:
        console.print(f"[red]{error}[/]")
        raise typer.Exit(1) from error
    except BaseException:
        stack.stop(say=console.print)
        raise
    try:
        while not stopping:
            if failure := stack.failed():
                console.print(f"[red]{failure}[/]")
                break
            time.sleep(0.5)
        else:
            code = 0
    finally:
        console.print("stopping in order (gateway, drain, workers, sink, API, stores)")
        code = stack.stop(say=console.print) or code
    raise typer.Exit(code)


def down(
    within_s: Annotated[float, typer.Option(help="How long to wait for an orderly stop.")] = 180,
) -> None:
    """Stop what `meterstream up` started: its supervisor stops everything in order."""
    state = StackState.load(STATE_DIR)
    if state is None:
        console.print("nothing is up")
        return
    if alive(state.supervisor):
        os.kill(state.supervisor, signal.SIGTERM)
        deadline = time.monotonic() + within_s
        while alive(state.supervisor) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not alive(state.supervisor):
            console.print("stopped")
            return
        console.print(f"[red]the supervisor did not stop in {within_s:.0f} s[/]")
        raise typer.Exit(1)
    # The supervisor died without stopping its services: stop them, last started first.
    for name, pid in reversed(list(state.pids.items())):
        if pid and alive(pid):
            os.kill(pid, signal.SIGTERM)
            console.print(f"{name} (pid {pid}) sent SIGTERM")
    state_file(STATE_DIR).unlink(missing_ok=True)


def status(
    minutes: Annotated[int, typer.Option(min=1, help="Freshness over the last minutes.")] = 5,
) -> None:
    """Each component, its PID, the consumer lag of the sink and the workers, and the
    freshness (event time → stored) of the last minutes."""
    state = StackState.load(STATE_DIR)
    if state is None:
        console.print("nothing is up (`meterstream up` starts the stack)")
        raise typer.Exit(1)
    table = Table(title=f"meterstream stack (supervisor pid {state.supervisor})")
    for column in ("component", "pid", "state"):
        table.add_column(column)
    down_count = 0
    for name, pid in state.pids.items():
        running = bool(pid) and alive(pid)
        down_count += not running
        table.add_row(name, str(pid), "running" if running else "[red]not running[/]")
    console.print(table)
    kafka = KafkaConfig(bootstrap_servers=state.kafka)
    for group, topics in (
        (state.sink_group, [spec.name for spec in TOPICS]),
        (state.workers_group, list(CONSUMED_TOPICS)),
    ):
        lags = asyncio.run(group_lag(kafka, group_id=group, topics=topics))
        console.print(f"consumer lag of {group}: {sum(lags.values()):,} messages")
    try:
        warehouse = open_warehouse(WarehouseConfig())
        try:
            row = warehouse.query_rows(FRESHNESS_SQL, params={"minutes": minutes})[0]
        finally:
            warehouse.close()
        console.print(
            f"freshness, last {minutes} min: {row['events']:,} completions,"
            f" p50 {row['p50_ms']:.0f} ms, p99 {row['p99_ms']:.0f} ms (event time → stored)"
        )
    except WarehouseError as error:
        console.print(f"[red]store: {str(error).splitlines()[0]}[/]")
        down_count += 1
    raise typer.Exit(1 if down_count else 0)

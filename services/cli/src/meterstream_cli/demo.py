"""`meterstream demo`: the whole pipeline on one machine with synthetic traffic, time-bounded."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from meterstream_alerting.config_registry import put_rule
from meterstream_cli.alert_commands import print_alerts
from meterstream_cli.demo_dashboard import DEMO_PROJECTS, show_dashboard
from meterstream_cli.demo_senders import GatewaySender, OtlpSender, SdkSender
from meterstream_cli.processes import free_port
from meterstream_cli.stack import LocalStack, StackPlan
from meterstream_cli.traffic import SyntheticTraffic, invalid_completion_lines
from meterstream_contracts import TOPICS, Event
from meterstream_kafka import KafkaConfig, make_producer, send_messages
from meterstream_sdk import AsyncClient
from meterstream_warehouse import Warehouse, WarehouseConfig, open_warehouse
from meterstream_warehouse.queries import (
    alert_history,
    cost_by_price_version,
    inference_windows,
    latency_by_model,
    row_counts,
    training_history,
    usage_totals,
)

TICK_S = 0.1


DEMO_PROJECT_RULE = {
    "description": "a model's p99 latency over 20 s for 30 s",
    "source": "inference_windows",
    "window_seconds": 10,
    "metric": "latency_p99_ms",
    "threshold": 20_000,
    "min_count": 20,
    "for_s": 30,
    "severity": "warning",
}
"""A project's own rule, as `meterstream alerts rule put` publishes it."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    seconds: float
    completions_per_s: int
    invalid_per_s: int
    run_id: str


@dataclass(slots=True)
class DemoTally:
    events: int = 0
    invalid: int = 0
    messages: int = 0


@dataclass(frozen=True, slots=True)
class DemoDoors:
    """Where the demo's gateway listens and the key it writes with."""

    gateway_url: str
    api_key: str


async def produce_traffic(
    kafka: KafkaConfig, plan: DemoPlan, doors: DemoDoors, progress: Progress
) -> DemoTally:
    """Completions, feedback and a training run through the SDK; a share of completions and
    the metric definitions through the gateway; instruments through OTLP."""
    traffic = SyntheticTraffic()
    tally = DemoTally()
    client = AsyncClient(project=traffic.project, kafka=kafka)
    await client.start()
    sdk = SdkSender(client)
    gateway = GatewaySender(doors.gateway_url, doors.api_key)
    otlp = OtlpSender(doors.gateway_url, doors.api_key, service="demo-chat-api")
    producer = make_producer(kafka, client_id="meterstream-demo-raw")
    await producer.start()
    task = progress.add_task("producing traffic", total=plan.seconds)
    try:
        now = datetime.now(UTC)
        registrations = traffic.registrations(now=now)
        for event in [e for e in registrations if e.kind == "metric_key"]:
            sdk.send(event)
        await gateway.send(
            [e for e in registrations if e.kind in ("metric_definition", "model_price")]
        )
        sdk.send(traffic.training_run(run_id=plan.run_id, now=now))
        tally.events += len(registrations) + 1
        started = time.monotonic()
        tick = 0
        while (elapsed := time.monotonic() - started) < plan.seconds:
            now = datetime.now(UTC)
            completions = traffic.completions(int(plan.completions_per_s * TICK_S), now=now)
            via_gateway = completions[: len(completions) // 10]
            await gateway.send(list(via_gateway))
            batch: list[Event] = [
                *completions[len(via_gateway) :],
                *traffic.feedback(completions, now=now),
            ]
            if tick % 5 == 0:
                batch.extend(traffic.training_step(run_id=plan.run_id, step=tick // 5, now=now))
            for event in batch:
                sdk.send(event)
            otlp.record(completions)
            tally.events += len(batch) + len(via_gateway)
            if tick % 10 == 0 and plan.invalid_per_s:
                # A careless producer writing straight to Kafka: the sink dead-letters these.
                spec = TOPICS.for_kind("completion")
                lines = invalid_completion_lines(plan.invalid_per_s, project=traffic.project)
                await send_messages(
                    producer, spec.name, [(b"demo-chat/bad", line) for line in lines]
                )
                tally.invalid += len(lines)
            tick += 1
            progress.update(task, completed=min(elapsed, plan.seconds))
            await asyncio.sleep(max(0.0, started + tick * TICK_S - time.monotonic()))
        sdk.runs[plan.run_id].finish()
        progress.update(task, completed=plan.seconds)
    finally:
        await asyncio.to_thread(otlp.close)
        await gateway.close()
        await client.close()
        await producer.stop()
    tally.messages = client.counters["delivered"] + gateway.accepted
    return tally


def run_demo(
    *,
    seconds: float,
    completions_per_s: int,
    use_local_broker: bool,
    use_local_clickhouse: bool,
    state_dir: Path,
    console: Console,
    keep_serving: bool = False,
) -> int:
    """`meterstream up` for the demo's projects, bounded traffic, the report, then the
    dashboard while the pipeline still runs. Returns an exit code."""
    stack = LocalStack(
        StackPlan(
            state_dir=state_dir / "stack",
            projects=DEMO_PROJECTS,
            gateway_port=free_port(),
            otlp_grpc_port=free_port(),
            api_port=free_port(),
            local_broker=use_local_broker,
            local_clickhouse=use_local_clickhouse,
            fresh_groups=True,
        )
    )
    plan = DemoPlan(seconds, completions_per_s, 2, run_id=f"run-{int(time.time())}")
    code = 1
    try:
        state = stack.start(say=console.print)
        console.print(
            f"pipeline up: gateway {state.gateway_url}, API {state.api_url},"
            f" pids {', '.join(f'{n} {p}' for n, p in state.pids.items())}"
        )
        asyncio.run(put_rule(stack.kafka, "demo-chat", "p99-latency", DEMO_PROJECT_RULE))
        console.print(
            "project rule demo-chat:p99-latency published"
            " (meterstream alerts rule list --project demo-chat)"
        )
        doors = DemoDoors(state.gateway_url, state.api_keys["demo-chat"])
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(), console=console
        ) as progress:
            tally = asyncio.run(produce_traffic(stack.kafka, plan, doors, progress))
        console.print(
            f"sent {tally.events:,} valid events through the SDK, the gateway and OTLP"
            f" ({tally.messages:,} acknowledged), and {tally.invalid} invalid events"
            " straight to Kafka (for the dead-letter topic)"
        )
        lag = stack.drain()
        if lag:
            console.print(f"[red]sink still {lag} messages behind[/]")
        empty = report_landed(console, stack.warehouse, plan.run_id)
        if empty:
            console.print(f"[red]no rows in {', '.join(empty)}[/]")
        served = show_dashboard(console, state.api_url, state.api_keys, keep_serving=keep_serving)
        code = 0 if lag == 0 and not empty and served == 0 else 1
    except KeyboardInterrupt:
        console.print("interrupted")
    finally:
        console.print("stopping the pipeline in order")
        stopped = stack.stop(say=console.print)
    return code or stopped


def report_landed(console: Console, warehouse_config: WarehouseConfig, run_id: str) -> list[str]:
    """Print rows per table, latency per model and the workers' rollups; return empty tables."""
    warehouse = open_warehouse(warehouse_config)
    try:
        counts = row_counts(warehouse)
        print_results(console, counts, latency_by_model(warehouse, minutes=60))
        print_rollups(console, inference_windows(warehouse, project="demo-chat", window_seconds=60))
        print_derived(console, warehouse, run_id)
        print_alerts(console, alert_history(warehouse, project="demo-chat", limit=10))
    finally:
        warehouse.close()
    return [name for name, count in counts.items() if count == 0]


def print_results(
    console: Console, counts: dict[str, int], latency: list[dict[str, object]]
) -> None:
    table = Table(title="rows stored per table")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, count in counts.items():
        table.add_row(name, f"{count:,}")
    console.print(table)
    percentiles = Table(title="latency per model, last hour (ms)")
    columns = ("model", "calls", "error_rate", "p50_latency_ms", "p95_latency_ms", "p50_ttft_ms")
    for column in columns:
        percentiles.add_column(column, justify="left" if column == "model" else "right")
    for row in latency:
        percentiles.add_row(*(str(row[column]) for column in columns))
    console.print(percentiles)


def print_rollups(console: Console, windows: list[dict[str, object]]) -> None:
    """The last few 1-minute windows per model, from the workers' merged rollup partials."""
    table = Table(title="1-minute rollups from the stream workers (partials merged in ClickHouse)")
    columns = ("model", "window_start", "calls", "errors", "p50_latency_ms", "p99_latency_ms")
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "window_start") else "right")
    for row in windows[-6:]:
        cells = []
        for column in columns:
            value = row[column]
            cells.append(f"{value:.1f}" if isinstance(value, float) else str(value))
        table.add_row(*cells)
    console.print(table)


def _table(console: Console, title: str, rows: list[dict[str, object]]) -> None:
    table = Table(title=title)
    for column in rows[0] if rows else ():
        table.add_column(column, justify="left" if column in ("scope", "model") else "right")
    for row in rows:
        table.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()))
    console.print(table)


HISTORY_KEYS = ("train/reward", "costs/all", "costs/cum/all", "throughput/avg_trainer_tok_per_s")


def print_derived(console: Console, warehouse: Warehouse, run_id: str) -> None:
    """The workers' cumulative totals, the cost ledger and the training run's history."""
    _table(
        console, "cumulative usage (stream workers)", usage_totals(warehouse, project="demo-chat")
    )
    _table(
        console,
        "cost ledger by price version",
        cost_by_price_version(warehouse, project="demo-chat"),
    )
    history = training_history(warehouse, project="demo-rl", run_id=run_id, keys=HISTORY_KEYS)
    _table(console, f"training history of {run_id} (last steps)", history[-5:])

"""`meterstream broker|topics|warehouse ...`: the real components, started and checked."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, LocalBroker, apply_topics, find_broker_script
from meterstream_warehouse import WarehouseConfig, migrate, open_warehouse, set_raw_retention
from meterstream_warehouse.queries import latency_by_model, row_counts

console = Console()

broker_app = typer.Typer(help="The local Apache Kafka broker, or a cluster of several (127.0.0.1).")
topics_app = typer.Typer(help="The topic catalogue on a broker.")
warehouse_app = typer.Typer(help="ClickHouse: migrations, retention, counts.")


Brokers = Annotated[
    int, typer.Option(min=1, max=9, help="Nodes of the cluster (3: three-way replication).")
]


def _local(brokers: int) -> LocalBroker:
    return LocalBroker(find_broker_script(), settings=(("MS_KAFKA_BROKERS", str(brokers)),))


@broker_app.command("start")
def broker_start(brokers: Brokers = 1) -> None:
    """Fetch Kafka's jars if needed, format storage once, start every node, wait until each
    answers; prints the bootstrap addresses."""
    console.print(_local(brokers).start())


@broker_app.command("stop")
def broker_stop(brokers: Brokers = 1) -> None:
    """Stop the nodes this checkout started (by their PIDs)."""
    _local(brokers).stop()


@broker_app.command("status")
def broker_status(brokers: Brokers = 1) -> None:
    """Each node, its PID and address; exit 1 unless every node runs."""
    nodes = _local(brokers).nodes()
    for node in nodes:
        state = f"running (pid {node.pid})" if node.pid else "stopped"
        console.print(f"node {node.node} {node.address} {state}")
    raise typer.Exit(0 if all(node.pid for node in nodes) else 1)


@topics_app.command("apply")
def topics_apply(
    dry_run: Annotated[bool, typer.Option(help="Only report what differs.")] = False,
    add_partitions: Annotated[
        bool, typer.Option(help="Grow topics that have fewer partitions (re-maps keys).")
    ] = False,
) -> None:
    """Create missing topics and fix config drift; report drift that needs a decision."""
    changes = asyncio.run(
        apply_topics(KafkaConfig(), TOPICS, dry_run=dry_run, add_partitions=add_partitions)
    )
    table = Table(title="topics" + (" (dry run)" if dry_run else ""))
    for column in ("topic", "role", "partitions", "action", "details"):
        table.add_column(column)
    for change in changes:
        style = "yellow" if change.is_drift else ""
        table.add_row(
            change.spec.name,
            change.spec.role,
            str(change.spec.partitions),
            f"[{style}]{change.action}[/]" if style else change.action,
            "; ".join(change.details),
        )
    console.print(table)
    unresolved = [c for c in changes if c.action == "drift" or (c.is_drift and dry_run)]
    if unresolved:
        raise typer.Exit(1)


@topics_app.command("list")
def topics_list() -> None:
    """Print the catalogue: every topic, its key, partitions, retention and value schema."""
    table = Table(title="topic catalogue")
    for column in ("topic", "role", "key", "partitions", "cleanup", "value schema"):
        table.add_column(column)
    for spec in TOPICS:
        table.add_row(
            spec.name,
            spec.role,
            "/".join(spec.key_fields),
            str(spec.partitions),
            spec.cleanup_policy,
            spec.value_schema.__name__,
        )
    console.print(table)


@warehouse_app.command("migrate")
def warehouse_migrate() -> None:
    """Apply pending numbered migrations (embedded chDB or the server in MS_WAREHOUSE_*)."""
    config = WarehouseConfig()
    warehouse = open_warehouse(config)
    try:
        applied = migrate(warehouse, raw_retention_days=config.raw_retention_days)
    finally:
        warehouse.close()
    names = [f"{m.version:04d}_{m.name}" for m in applied]
    console.print(f"applied: {', '.join(names)}" if names else "up to date")


@warehouse_app.command("retention")
def warehouse_retention(days: Annotated[int, typer.Option(min=1)]) -> None:
    """Set the TTL of every raw table to DAYS."""
    warehouse = open_warehouse(WarehouseConfig())
    try:
        altered = set_raw_retention(warehouse, days=days)
    finally:
        warehouse.close()
    console.print(f"TTL {days} days on {len(altered)} tables")


@warehouse_app.command("counts")
def warehouse_counts() -> None:
    """Rows per table and p50/p95 latency per model over the last hour."""
    warehouse = open_warehouse(WarehouseConfig())
    try:
        from meterstream_cli.demo import print_results

        print_results(console, row_counts(warehouse), latency_by_model(warehouse, minutes=60))
    finally:
        warehouse.close()

"""The broker and the store a benchmark talks to: MS_KAFKA_BOOTSTRAP_SERVERS and
MS_WAREHOUSE_URL, else the local Apache Kafka broker and the local ClickHouse server."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, LocalBroker, apply_topics, find_broker_script
from meterstream_warehouse import (
    LocalClickHouse,
    Warehouse,
    WarehouseConfig,
    find_clickhouse_script,
    migrate,
    open_warehouse,
)


def benchmark_kafka() -> KafkaConfig:
    """The configured brokers, or the local broker started on demand; topics applied."""
    kafka = KafkaConfig()
    if "MS_KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        kafka = KafkaConfig(bootstrap_servers=LocalBroker(find_broker_script()).start())
    asyncio.run(apply_topics(kafka, TOPICS))
    return kafka


@dataclass(frozen=True)
class BenchmarkStore:
    """A database of the benchmark's own on a ClickHouse server, the environment that points
    a service at it, and the server's PID when it is the local one (for its CPU and RSS)."""

    warehouse: Warehouse
    env: dict[str, str]
    server_pid: int | None

    def drop(self) -> None:
        self.warehouse.execute(f"DROP DATABASE IF EXISTS {self.warehouse.database}")
        self.warehouse.close()


def benchmark_store(prefix: str) -> BenchmarkStore:
    """MS_WAREHOUSE_URL's server, else the local ClickHouse server started on demand; a new
    migrated database named after `prefix`."""
    pid = None
    if "MS_WAREHOUSE_URL" in os.environ or "CLICKHOUSE_URL" in os.environ:
        url = WarehouseConfig().url
    else:
        server = LocalClickHouse(find_clickhouse_script())
        server.start()
        pid = server.pid()
        url = server.url(user="meterstream", password="meterstream")
    database = f"{prefix}_{uuid.uuid4().hex[:8]}"
    warehouse = open_warehouse(WarehouseConfig(url=url, database=database))
    migrate(warehouse, raw_retention_days=365)
    env = {
        "MS_WAREHOUSE_BACKEND": "server",
        "MS_WAREHOUSE_URL": url,
        "MS_WAREHOUSE_DATABASE": database,
    }
    return BenchmarkStore(warehouse, env, pid)

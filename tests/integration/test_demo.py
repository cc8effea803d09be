"""The README's run command, end to end: broker + sink process + traffic → every table filled."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from meterstream_warehouse.chdb_backend import ChdbWarehouse
from meterstream_warehouse.queries import row_counts

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_demo_fills_every_table_and_keeps_invalid_events_out(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    group = f"demo-test-{uuid.uuid4().hex[:8]}"
    asyncio.run(apply_topics(kafka_config, TOPICS))
    asyncio.run(start_group_at_end(kafka_config, group))
    env = {
        **os.environ,
        "MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        "MS_WAREHOUSE_CHDB_PATH": str(tmp_path / "chdb"),
        "MS_SINK_GROUP_ID": group,
        "COLUMNS": "160",
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "meterstream_cli",
            "demo",
            "--seconds",
            "3",
            "--rate",
            "300",
            "--no-local-broker",
            "--state-dir",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "rows stored per table" in done.stdout
    assert "gpt-4o-mini" in done.stdout
    warehouse = ChdbWarehouse(tmp_path / "chdb", database="meterstream")
    try:
        assert all(count > 0 for count in row_counts(warehouse).values()), row_counts(warehouse)
        bad = warehouse.query_rows("SELECT count() AS n FROM raw_completions WHERE latency_ms < 0")
        assert bad[0]["n"] == 0
        # The workers' rollups, merged in ClickHouse, count exactly the stored completions.
        stored = warehouse.query_rows("SELECT count() AS n FROM raw_completions FINAL")[0]["n"]
        for window in (10, 60):
            rolled = warehouse.query_rows(
                "SELECT sum(count) AS n FROM inference_rollup_partials FINAL"
                " WHERE window_seconds = {w:UInt32}",
                params={"w": window},
            )[0]["n"]
            assert rolled == stored, (window, rolled, stored)
    finally:
        warehouse.close()

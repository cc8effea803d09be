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
from meterstream_query.reconcile import reconcile, report
from meterstream_warehouse.queries import row_counts
from tests.helpers import ServerStore

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_demo_fills_every_table_and_keeps_invalid_events_out(
    kafka_config: KafkaConfig, tmp_path: Path, server_store: ServerStore
) -> None:
    group = f"demo-test-{uuid.uuid4().hex[:8]}"
    app_id = f"demo-workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(apply_topics(kafka_config, TOPICS))
    asyncio.run(start_group_at_end(kafka_config, group, keep_registries=True))
    asyncio.run(start_group_at_end(kafka_config, app_id))
    env = {
        **os.environ,
        "MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        **server_store.env,
        "MS_SINK_GROUP_ID": group,
        "MS_WORKER_APP_ID": app_id,
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
            "--no-local-clickhouse",
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
    # the report and the query API's answers come while the pipeline still runs; then the
    # stack stops in order
    assert "API: training runs" in done.stdout
    assert done.stdout.index("API: training runs") < done.stdout.index("gateway stopped")
    assert "sink drained" in done.stdout
    assert "gpt-4o-mini" in done.stdout
    warehouse = server_store.warehouse
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
    # Every derived number equals its recomputation from the raw events.
    results = reconcile(warehouse)
    assert all(result.compared for result in results), report(results)
    assert all(result.ok for result in results), report(results)
    # One completion the workers never saw, one history row lost: both are reported.
    warehouse.execute(
        """
        INSERT INTO raw_completions (schema_version, event_id, time, project, completion_id,
            model, provider, started_at, latency_ms, input_tokens, output_tokens,
            cached_tokens, status, error_type, streamed, labels)
        SELECT 1, generateUUIDv4(), max(time), 'demo-chat', 'unseen', 'gpt-4o', 'openai',
               max(time), 10, 1000, 100, 0, 'ok', '', false, map()
        FROM raw_completions
        """
    )
    warehouse.execute(
        "DELETE FROM training_history WHERE step = (SELECT max(step) FROM training_history)"
    )
    tampered = {r.name: r for r in reconcile(warehouse)}
    assert [d for d in tampered["windows"].differences if "demo-chat/gpt-4o/" in d]
    assert any("count stored" in d for d in tampered["totals"].differences)
    assert any("ledger_usd" in d for d in tampered["costs"].differences)
    assert any("steps stored" in d for d in tampered["training"].differences)
    assert tampered["feedback"].ok

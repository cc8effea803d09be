"""A table that drops rows as it writes them is noticed: through a real broker, sink
process and ClickHouse server, a raw table whose TTL is shorter than the sink believes
(1 day against the sink's 90) drops the older events of a validated envelope on insert;
the sink counts what the table kept under the batch's token, and each dropped event
becomes a dead letter at its place with the reason, while its neighbours are stored."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meterstream_contracts import TOPICS, Completion, Event
from meterstream_kafka import KafkaConfig
from meterstream_warehouse.migrate import set_raw_retention
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness, publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def calls(project: str, ages_days: list[float]) -> list[Event]:
    now = datetime.now(UTC)
    return [
        Completion(
            project=project,
            completion_id=f"c{i}",
            model="gpt-4o",
            started_at=now - timedelta(days=age),
            time=now - timedelta(days=age),
            latency_ms=100.0,
        )
        for i, age in enumerate(ages_days)
    ]


def test_rows_a_table_drops_on_insert_are_dead_lettered_with_the_reason(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, server_store: ServerStore
) -> None:
    store = server_store.warehouse
    set_raw_retention(store, days=1)  # the sink keeps its default of 90
    sent = calls(project_name, [0.01, 10, 0.02, 20, 0.03])
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    try:
        asyncio.run(publish(kafka_config, sent, per_envelope=10))  # one validated envelope
        asyncio.run(harness.wait_caught_up(sink, within_s=60))
        deadline = time.monotonic() + 60
        while True:
            letters = store.query_rows(
                "SELECT line, reason, payload_text, source_topic FROM dead_letters FINAL"
                " WHERE project = {p:String} ORDER BY line",
                params={"p": project_name},
            )
            if len(letters) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        log = sink.tail()
    finally:
        sink.stop()
    stored = store.query_rows(
        "SELECT completion_id FROM raw_completions WHERE project = {p:String}"
        " ORDER BY completion_id",
        params={"p": project_name},
    )
    assert [row["completion_id"] for row in stored] == ["c0", "c2", "c4"]
    assert [row["line"] for row in letters] == [1, 3], log
    for letter in letters:
        assert letter["source_topic"] == TOPICS.for_kind("completion").name
        assert "raw_completions kept 3 of the 5 rows of its insert" in letter["reason"]
        assert "dropped it as it was written" in letter["reason"]
    assert '"completion_id":"c1"' in letters[0]["payload_text"]
    assert "rows dropped on insert, dead-lettered" in log

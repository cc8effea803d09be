"""When ClickHouse fails the sink pauses, retries and resumes, never committing past the store."""

from __future__ import annotations

import asyncio
import threading
import urllib.request
import uuid

import pyarrow as pa
import pytest

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, apply_topics, group_lag, start_group_at_end
from meterstream_sink.config import SinkConfig
from meterstream_sink.service import ClickHouseSink
from meterstream_warehouse import InsertResult, RetriableWarehouseError, Warehouse
from tests.reliability.sink_harness import completions, publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


class FlakyStore:
    """The real chDB warehouse behind a switch that makes inserts fail as an outage would."""

    def __init__(self, inner: Warehouse) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.refused = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def insert_json_rows(
        self, table: str, data: bytes, *, dedup_token: str | None = None
    ) -> InsertResult:
        if self.down.is_set():
            self.refused += 1
            raise RetriableWarehouseError("store unreachable (injected outage)")
        return self.inner.insert_json_rows(table, data, dedup_token=dedup_token)

    def insert_arrow(
        self, table: str, batch: pa.Table, *, dedup_token: str | None = None
    ) -> InsertResult:
        return self.inner.insert_arrow(table, batch, dedup_token=dedup_token)


@pytest.fixture
def flaky_store(store: Warehouse) -> FlakyStore:
    return FlakyStore(store)


def stored(warehouse: Warehouse, project: str) -> int:
    rows = warehouse.query_rows(
        "SELECT count() AS n FROM raw_completions FINAL WHERE project = {p:String}",
        params={"p": project},
    )
    return int(rows[0]["n"])


async def test_outage_pauses_without_committing_then_everything_is_stored_once(
    kafka_config: KafkaConfig, flaky_store: FlakyStore, project_name: str
) -> None:
    store = flaky_store
    group = f"bp-{uuid.uuid4().hex[:8]}"
    await apply_topics(kafka_config, TOPICS)
    await start_group_at_end(kafka_config, group)
    topics = [TOPICS.for_kind("completion").name]
    store.down.set()
    await publish(kafka_config, completions(project_name, 3000))
    config = SinkConfig(
        group_id=group, max_batch_seconds=0.2, retry_initial_s=0.05, retry_max_s=0.2
    )
    sink = ClickHouseSink(config=config, kafka=kafka_config, warehouse=store)  # type: ignore[arg-type]
    server = sink.metrics.serve(0)
    task = asyncio.create_task(sink.run())
    try:
        for _ in range(400):
            if store.refused >= 5:
                break
            await asyncio.sleep(0.05)
        lag_during = sum((await group_lag(kafka_config, group_id=group, topics=topics)).values())
        assert lag_during > 0, "offsets were committed although nothing was stored"
        assert stored(store.inner, project_name) == 0
        store.down.clear()
        for _ in range(200):
            if stored(store.inner, project_name) == 3000:
                break
            await asyncio.sleep(0.1)
        for _ in range(100):
            lag = sum((await group_lag(kafka_config, group_id=group, topics=topics)).values())
            if lag == 0:
                break
            await asyncio.sleep(0.1)
        assert lag == 0
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        response = await asyncio.to_thread(urllib.request.urlopen, url, timeout=5)
        text = response.read().decode()
    finally:
        sink.stop()
        await asyncio.wait_for(task, 30)
        server.shutdown()
    assert stored(store.inner, project_name) == 3000
    assert "meterstream_sink_store_retries_total" in text
    assert 'meterstream_sink_rows_stored_total{table="raw_completions"}' in text
    assert "meterstream_sink_freshness_seconds_bucket" in text
    assert "meterstream_sink_lag_messages" in text

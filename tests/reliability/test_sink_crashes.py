"""SIGKILL the sink at each step of committing: after a restart nothing is lost or doubled."""

from __future__ import annotations

import signal

import pytest

from meterstream_kafka import KafkaConfig
from meterstream_warehouse import Warehouse
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness, completions, publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

PRODUCED = 12_000


def stored_counts(warehouse: Warehouse, project: str) -> dict[str, int]:
    params = {"p": project}
    where = "WHERE project = {p:String}"
    final = warehouse.query_rows(
        f"SELECT count() AS n FROM raw_completions FINAL {where}", params=params
    )
    unique = warehouse.query_rows(
        f"SELECT uniqExact(event_id) AS n FROM raw_completions {where}", params=params
    )
    warehouse.execute("OPTIMIZE TABLE raw_completions FINAL")
    merged = warehouse.query_rows(
        f"SELECT count() AS n FROM raw_completions {where}", params=params
    )
    return {"final": final[0]["n"], "unique": unique[0]["n"], "merged": merged[0]["n"]}


@pytest.mark.parametrize(
    ("crash_point", "restart_batch_rows"),
    [
        ("before_insert", "2000"),
        ("after_insert", "2000"),
        ("after_insert", "4500"),
        ("after_commit", "3100"),
    ],
)
async def test_kill_and_restart_stores_every_event_exactly_once(
    kafka_config: KafkaConfig,
    project_name: str,
    crash_point: str,
    restart_batch_rows: str,
    server_store: ServerStore,
) -> None:
    harness = SinkHarness(kafka_config, server_store.logs, server_store.env)
    await harness.prepare()
    await publish(kafka_config, completions(project_name, PRODUCED))
    doomed = harness.start(
        "crashing", max_batch_rows="2000", crash_point=crash_point, crash_after_batches="2"
    )
    assert doomed.wait(timeout=120) == -signal.SIGKILL, doomed.tail()
    assert await harness.lag() > 0, "the crash came after everything was stored"
    sink = harness.start("restarted", max_batch_rows=restart_batch_rows)
    await harness.wait_caught_up(sink)
    assert sink.stop() == 0, sink.tail()
    assert stored_counts(server_store.warehouse, project_name) == {
        "final": PRODUCED,
        "unique": PRODUCED,
        "merged": PRODUCED,
    }

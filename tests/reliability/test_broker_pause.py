"""SIGSTOP of the broker while producers publish and the sink stores: after SIGCONT every
acknowledged event is stored exactly once and an event whose publish got no answer
(unknown) is stored at most once."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from meterstream_contracts import Event
from meterstream_kafka import KafkaConfig
from tests.reliability.sink_harness import SinkHarness, completions, publish, stored_rows

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

PAUSE_S = float(os.environ.get("MS_BROKER_PAUSE_S", "10"))
"""10 s in CI; `make reliability` pauses 30 s."""


def test_a_paused_broker_loses_and_doubles_nothing_acknowledged(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, local_broker_pid: int
) -> None:
    harness = SinkHarness(kafka_config, tmp_path)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    acked: list[Event] = []
    unknown: list[Event] = []
    batches = [completions(f"{project_name}", 500) for _ in range(20)]

    def produce() -> None:
        for batch in batches:
            try:
                asyncio.run(publish(kafka_config, batch, per_envelope=100))
            except Exception:
                unknown.extend(batch)  # no ack: stored at most once
            else:
                acked.extend(batch)
            time.sleep(0.2)

    producer = threading.Thread(target=produce)
    try:
        producer.start()
        time.sleep(1.0)
        os.kill(local_broker_pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            os.kill(local_broker_pid, signal.SIGCONT)
        producer.join(timeout=180)
        assert not producer.is_alive()
        asyncio.run(harness.wait_caught_up(sink, within_s=180))
    finally:
        os.kill(local_broker_pid, signal.SIGCONT)
        sink.stop()
    assert len(acked) + len(unknown) == 20 * 500
    assert len(acked) >= 10 * 500  # most publishes rode out the pause
    rows = stored_rows(
        tmp_path,
        "SELECT toString(event_id) AS id, count() AS n FROM raw_completions"
        " WHERE project = {p:String} GROUP BY id",
        p=project_name,
    )
    stored = {row["id"]: int(row["n"]) for row in rows}
    assert all(n == 1 for n in stored.values())  # nothing twice, even before merges
    assert all(str(event.event_id) in stored for event in acked)
    assert set(stored) <= {str(e.event_id) for e in acked} | {str(e.event_id) for e in unknown}

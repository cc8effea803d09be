"""The broker faulted by PID while producers publish and the sink stores: SIGSTOP (paused,
then SIGCONT) and SIGKILL (then started again on the same data). Afterwards every
acknowledged event is stored exactly once, no event whose producer could not even start
is stored, and an event whose publish got no answer (unknown) is stored at most once."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from meterstream_kafka import KafkaConfig, LocalBroker
from tests.helpers import ServerStore
from tests.reliability.outcomes import Outcomes, publish_recorded
from tests.reliability.sink_harness import SinkHarness, completions

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

PAUSE_S = float(os.environ.get("MS_BROKER_PAUSE_S", "10"))
"""10 s in CI; `make reliability` pauses 30 s."""

BATCH = 500
BEFORE, AFTER = 4, 8
"""Batches published before the fault (at least) and after it has ended."""


def publish_around_a_fault(
    kafka: KafkaConfig,
    server_store: ServerStore,
    folder: Path,
    project: str,
    fault: Callable[[], None],
) -> Outcomes:
    """Batches of completions published one after another from a thread (recording each
    batch's outcome) while the sink stores them: `fault()` after the first batches, and
    publishing goes on through it and for `AFTER` batches once it has ended."""
    harness = SinkHarness(kafka, folder, server_store.env)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    outcomes = Outcomes()
    fault_ended = threading.Event()
    sent = [0, 0]  # batches in all, batches after the fault

    def produce() -> None:
        while sent[1] < AFTER:
            ended = fault_ended.is_set()
            asyncio.run(publish_recorded(kafka, completions(project, BATCH), outcomes))
            sent[0] += 1
            sent[1] += ended
            time.sleep(0.2)

    producer = threading.Thread(target=produce)
    try:
        producer.start()
        while sent[0] < BEFORE:
            time.sleep(0.05)
        try:
            fault()
        finally:
            fault_ended.set()
        producer.join(timeout=240)
        assert not producer.is_alive()
        asyncio.run(harness.wait_caught_up(sink, within_s=180))
    finally:
        sink.stop()
    assert outcomes.total == sent[0] * BATCH
    outcomes.check_stored(server_store.warehouse, project)
    return outcomes


def test_a_paused_broker_loses_and_doubles_nothing_acknowledged(
    kafka_config: KafkaConfig,
    tmp_path: Path,
    project_name: str,
    local_broker_pid: int,
    server_store: ServerStore,
) -> None:
    def pause() -> None:
        os.kill(local_broker_pid, signal.SIGSTOP)
        try:
            time.sleep(PAUSE_S)
        finally:
            os.kill(local_broker_pid, signal.SIGCONT)

    outcomes = publish_around_a_fault(kafka_config, server_store, tmp_path, project_name, pause)
    assert len(outcomes.acked) >= (BEFORE + AFTER) * BATCH  # publishes rode out the pause


def test_a_killed_broker_loses_and_doubles_nothing_acknowledged(
    kafka_config: KafkaConfig,
    server_store: ServerStore,
    project_name: str,
    local_broker: LocalBroker,
    local_broker_pid: int,
) -> None:
    """SIGKILL: no clean shutdown, the log recovered from what the process had written."""

    def kill_and_start_again() -> None:
        os.kill(local_broker_pid, signal.SIGKILL)
        time.sleep(3.0)
        local_broker.start()

    outcomes = publish_around_a_fault(
        kafka_config, server_store, server_store.logs, project_name, kill_and_start_again
    )
    assert len(outcomes.acked) >= (BEFORE + AFTER) * BATCH
    assert outcomes.failed or outcomes.unknown, "no publish met the dead broker"

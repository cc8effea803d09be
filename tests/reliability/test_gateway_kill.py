"""SIGKILL of the ingest gateway while clients post to it and the sink stores: a client
records each request as acknowledged (200), failed (it could not connect, or a 4xx) or
unknown (no answer, or a 5xx). Afterwards every acknowledged event is stored exactly
once, no failed one is stored and an unknown one at most once."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest

from meterstream_cli.processes import ServiceProcess, free_port, gateway_process
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig
from tests.helpers import ServerStore
from tests.reliability.outcomes import Outcomes
from tests.reliability.sink_harness import SinkHarness, completions

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY = "key-gateway-kill"
CLIENTS, BATCH = 4, 200
BEFORE, AFTER = 5, 5
"""Requests each client makes before the kill (at least) and after the restart."""


def post_batch(client: httpx.Client, url: str, project: str, outcomes: Outcomes) -> bool:
    """One request of `BATCH` completions, its outcome recorded; False if it could not
    connect."""
    events = completions(project, BATCH)
    body = orjson.dumps([event.model_dump(mode="json") for event in events])
    try:
        response = client.post(url + "/v1/events", content=body)
    except httpx.ConnectError:
        outcomes.failed.extend(events)  # nothing reached a gateway
        return False
    except httpx.HTTPError:
        outcomes.unknown.extend(events)  # sent, and the gateway died before answering
        return True
    if response.status_code == 200:
        assert response.json()["accepted"] == BATCH, response.text
        outcomes.acked.extend(events)
    elif response.status_code < 500:
        outcomes.failed.extend(events)
    else:
        outcomes.unknown.extend(events)
    return True


def test_a_killed_gateway_loses_and_doubles_nothing_acknowledged(
    kafka_config: KafkaConfig,
    tmp_path: Path,
    project_name: str,
    server_store: ServerStore,
) -> None:
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    sink = harness.start("sink")
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    def start_gateway(run: str) -> ServiceProcess:
        return gateway_process(
            kafka_config,
            port=port,
            api_keys=f"{project_name}:{hash_key(KEY)}",
            log_path=tmp_path / f"gateway-{run}.log",
        )

    gateway = start_gateway("first")
    outcomes = Outcomes()
    restarted = threading.Event()
    requests = [0] * CLIENTS

    def client_loop(index: int) -> None:
        after = 0
        headers = {"Authorization": f"Bearer {KEY}"}
        with httpx.Client(headers=headers, timeout=30) as client:
            while after < AFTER:
                was_restarted = restarted.is_set()
                connected = post_batch(client, url, project_name, outcomes)
                requests[index] += 1
                after += was_restarted
                if not connected:
                    time.sleep(0.05)  # while the gateway is down: a few refused connects

    clients = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
    try:
        for thread in clients:
            thread.start()
        while min(requests) < BEFORE:
            time.sleep(0.01)
        gateway.kill()  # mid-request: every client is posting
        time.sleep(1.0)
        gateway = start_gateway("restarted")
        restarted.set()
        for thread in clients:
            thread.join(timeout=180)
            assert not thread.is_alive()
        asyncio.run(harness.wait_caught_up(sink, within_s=180))
    finally:
        gateway.stop()
        sink.stop()
    assert outcomes.total == sum(requests) * BATCH
    assert len(outcomes.acked) >= CLIENTS * (BEFORE + AFTER - 1) * BATCH
    assert outcomes.failed, "no client met the dead gateway"
    outcomes.check_stored(server_store.warehouse, project_name)

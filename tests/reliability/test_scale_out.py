"""Scale-out against one ClickHouse server: two gateways take part of the traffic, two sink
processes in one consumer group and two workers share the topics; one sink is SIGKILLed
under load and the other takes its partitions over. Every acknowledged event is stored once
and reconcile is clean."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import orjson
import pytest

from meterstream_cli.processes import ServiceProcess, free_port, gateway_process
from meterstream_contracts import Event
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig
from tests.helpers import ServerStore
from tests.reliability.sink_harness import publish
from tests.reliability.test_pipeline_faults import Pipeline, run_under_faults

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY = "key-scale-out"
PER_REQUEST = 250


def post_all(url: str, events: list[Event]) -> None:
    """Every event through one gateway, acknowledged (200, all accepted) or the test fails."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(headers=headers, timeout=30) as client:
        for start in range(0, len(events), PER_REQUEST):
            chunk = events[start : start + PER_REQUEST]
            body = orjson.dumps([event.model_dump(mode="json") for event in chunk])
            response = client.post(url + "/v1/events", content=body)
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == len(chunk), response.text


def test_a_killed_sink_s_partitions_move_to_the_other_losing_nothing(
    kafka_config: KafkaConfig, server_store: ServerStore, project_name: str, tmp_path: Path
) -> None:
    gateways: list[ServiceProcess] = []
    urls: list[str] = []
    for n in range(2):
        port = free_port()
        gateways.append(
            gateway_process(
                kafka_config,
                port=port,
                api_keys=f"{project_name}:{hash_key(KEY)}",
                log_path=tmp_path / f"gateway-{n}.log",
            )
        )
        urls.append(f"http://127.0.0.1:{port}")

    def send(batch: int, events: list[Event]) -> None:
        """Batches in turn to the first gateway, the second, and straight to Kafka."""
        if batch % 3 == 2:
            asyncio.run(publish(kafka_config, events, per_envelope=200))
        else:
            post_all(urls[batch % 3], events)

    def grow_then_kill(batch: int, pipeline: Pipeline) -> None:
        if batch == 0:
            pipeline.workers.start(slot=1)
        elif batch == 5:
            assert len(pipeline.sinks) == 2
            pipeline.kill_sink(0)

    try:
        run_under_faults(
            kafka_config,
            server_store,
            server_store.logs,
            project_name,
            grow_then_kill,
            sinks=2,
            send=send,
        )
    finally:
        for gateway in gateways:
            gateway.stop()

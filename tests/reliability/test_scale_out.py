"""Scale-out against one ClickHouse server: two sink processes in one consumer group and two
workers share the topics; one sink is SIGKILLed under load and the other takes its
partitions over. Every acknowledged event is stored once and reconcile is clean."""

from __future__ import annotations

import pytest

from meterstream_kafka import KafkaConfig
from tests.helpers import ServerStore
from tests.reliability.test_pipeline_faults import Pipeline, run_under_faults

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]


def test_a_killed_sink_s_partitions_move_to_the_other_losing_nothing(
    kafka_config: KafkaConfig, server_store: ServerStore, project_name: str
) -> None:
    def grow_then_kill(batch: int, pipeline: Pipeline) -> None:
        if batch == 0:
            pipeline.workers.start(slot=1)
        elif batch == 5:
            assert len(pipeline.sinks) == 2
            pipeline.kill_sink(0)

    run_under_faults(
        kafka_config, server_store, server_store.logs, project_name, grow_then_kill, sinks=2
    )

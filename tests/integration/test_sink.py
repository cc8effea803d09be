"""The first sink against the real broker and embedded ClickHouse (chDB)."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable

import orjson
import pytest

from meterstream_contracts import TOPICS
from meterstream_contracts.derived import DeadLetter
from meterstream_kafka import (
    KafkaConfig,
    apply_topics,
    catalogue_end_offsets,
    commit_group_offsets,
    group_lag,
    make_producer,
    send_messages,
    start_group_at_end,
)
from meterstream_sink.config import SinkConfig
from meterstream_sink.service import ClickHouseSink
from meterstream_warehouse import Warehouse, table_for_kind
from tests.helpers import ALL_KINDS, examples_for_project
from tests.integration.kafka_io import (
    end_offsets,
    read_from,
)

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse]


async def produce_examples(config: KafkaConfig, project: str) -> tuple[dict[str, int], set[str]]:
    """Valid and invalid examples of every kind, each kind in one envelope.

    Returns the valid count per kind and the event ids of the invalid events.
    """
    producer = make_producer(config)
    await producer.start()
    valid_counts: dict[str, int] = {}
    invalid: set[str] = set()
    try:
        for kind in ALL_KINDS:
            valid, bad = examples_for_project(kind, project)
            spec = TOPICS.for_kind(kind)
            lines = [valid[0], *bad, *valid[1:]]
            await send_messages(producer, spec.name, [(project.encode(), b"\n".join(lines))])
            valid_counts[kind] = len(valid)
            invalid.update(orjson.loads(line)["event_id"] for line in bad)
    finally:
        await producer.stop()
    return valid_counts, invalid


def stored(warehouse: Warehouse, kind: str, project: str) -> int:
    table = table_for_kind(kind).name
    rows = warehouse.query_rows(
        f"SELECT count() AS n FROM {table} FINAL WHERE project = {{p:String}}",
        params={"p": project},
    )
    return int(rows[0]["n"])


def caught_up(config: KafkaConfig, group: str) -> bool:
    topics = [spec.name for spec in TOPICS.event_topics]
    return sum(asyncio.run(group_lag(config, group_id=group, topics=topics)).values()) == 0


def expected_rows(kind: str, sent: int) -> int:
    """Raw tables keep every event; registries keep the latest record per key."""
    if table_for_kind(kind).has_retention:
        return sent
    spec = TOPICS.for_kind(kind)
    valid, _ = examples_for_project(kind, "any")
    return len({spec.key_of(orjson.loads(line)) for line in valid})


async def run_sink_until(
    sink: ClickHouseSink, done: Callable[[], bool], *, within_s: float = 60.0
) -> None:
    task = asyncio.create_task(sink.run())
    deadline = time.monotonic() + within_s
    try:
        while not await asyncio.to_thread(done):
            assert time.monotonic() < deadline, "sink did not store the events in time"
            assert not task.done(), task.exception()
            await asyncio.sleep(0.2)
    finally:
        sink.stop()
        await asyncio.wait_for(task, 30)


async def test_valid_events_are_stored_invalid_ones_dead_lettered_and_offsets_committed(
    kafka_config: KafkaConfig, store: Warehouse, project_name: str
) -> None:
    await apply_topics(kafka_config, TOPICS)
    dlq_start = await end_offsets(kafka_config, TOPICS.dead_letter.name)
    group = f"sink-test-{uuid.uuid4().hex[:8]}"
    await start_group_at_end(kafka_config, group)
    sent, invalid = await produce_examples(kafka_config, project_name)
    config = SinkConfig(group_id=group, max_batch_seconds=0.3)
    sink = ClickHouseSink(config=config, kafka=kafka_config, warehouse=store)

    def all_stored() -> bool:
        return all(stored(store, k, project_name) >= expected_rows(k, n) for k, n in sent.items())

    await run_sink_until(sink, all_stored)
    for kind, count in sent.items():
        assert stored(store, kind, project_name) == expected_rows(kind, count), kind
    lag = await group_lag(
        kafka_config, group_id=group, topics=[s.name for s in TOPICS.event_topics]
    )
    assert sum(lag.values()) == 0

    def mine(values: list[bytes]) -> list[DeadLetter]:
        letters = [DeadLetter.model_validate_json(v) for v in values]
        return [d for d in letters if orjson.loads(d.payload).get("event_id") in invalid]

    values = await read_from(kafka_config, dlq_start, until=lambda v: len(mine(v)) >= len(invalid))
    letters = mine(values)
    assert {orjson.loads(d.payload)["event_id"] for d in letters} == invalid
    assert len(letters) == len(invalid)
    for letter in letters:
        assert letter.source_topic in {spec.name for spec in TOPICS.event_topics}
        assert letter.line is not None
        assert letter.line >= 1
        assert letter.reason
        assert orjson.loads(letter.payload)["project"] in (project_name, "bad project!")


async def test_replaying_the_topics_from_the_start_does_not_double_count(
    kafka_config: KafkaConfig, store: Warehouse, project_name: str
) -> None:
    await apply_topics(kafka_config, TOPICS)
    start = await catalogue_end_offsets(kafka_config)
    sent, _ = await produce_examples(kafka_config, project_name)

    def all_stored() -> bool:
        return all(stored(store, k, project_name) >= expected_rows(k, n) for k, n in sent.items())

    for attempt in range(2):
        # A second group re-reads the same messages, like a consumer reset.
        group = f"replay-{attempt}-{uuid.uuid4().hex[:6]}"
        await commit_group_offsets(kafka_config, group, start)
        config = SinkConfig(group_id=group, max_batch_seconds=0.3)
        sink = ClickHouseSink(config=config, kafka=kafka_config, warehouse=store)
        await run_sink_until(sink, all_stored)
        await run_sink_until(
            ClickHouseSink(config=config, kafka=kafka_config, warehouse=store),
            functools.partial(caught_up, kafka_config, group),
        )
    for kind, count in sent.items():
        assert stored(store, kind, project_name) == expected_rows(kind, count), kind

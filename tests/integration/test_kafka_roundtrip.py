"""Every example event kind goes through the real broker as an envelope and comes back intact."""

from __future__ import annotations

import uuid

import pytest

from meterstream_contracts import TOPICS, Event, decode_envelope, pack_by_key
from meterstream_kafka import KafkaConfig, apply_topics, make_producer, send_messages
from tests.helpers import ALL_KINDS, examples_for_project
from tests.integration.kafka_io import end_offsets, read_from

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize("compression", ["zstd", "none"])
async def test_every_kind_round_trips_through_the_broker(
    kafka_config: KafkaConfig, project_name: str, compression: str
) -> None:
    config = kafka_config.model_copy(update={"compression": compression})
    await apply_topics(config, TOPICS)
    producer = make_producer(config)
    await producer.start()
    sent: dict[str, list[Event]] = {}
    starts = {}
    try:
        for kind in ALL_KINDS:
            spec = TOPICS.for_kind(kind)
            valid, _ = examples_for_project(kind, project_name)
            events = [decode_envelope(v, kind=kind).events[0] for v in valid]
            sent[kind] = list(events)
            starts[kind] = await end_offsets(config, spec.name)
            await send_messages(producer, spec.name, pack_by_key(events, topic=spec))
    finally:
        await producer.stop()
    for kind in ALL_KINDS:
        wanted = len(sent[kind])

        def complete(values: list[bytes], kind: str = kind, wanted: int = wanted) -> bool:
            return len(events_of(values, kind, project_name)) >= wanted

        values = await read_from(config, starts[kind], until=complete)
        received = events_of(values, kind, project_name)
        assert sorted(map(repr, received)) == sorted(map(repr, sent[kind])), kind


def events_of(values: list[bytes], kind: str, project: str) -> list[Event]:
    found: list[Event] = []
    for value in values:
        found.extend(e for e in decode_envelope(value, kind=kind).events if e.project == project)
    return found


async def test_apply_is_idempotent_and_reports_then_fixes_drift(kafka_config: KafkaConfig) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    from meterstream_contracts.topics import TopicSpec

    spec = TopicSpec(
        name=f"meterstream.test.drift-{uuid.uuid4().hex[:8]}",
        role="derived",
        value_schema=TOPICS.for_kind("completion").value_schema,
        key_fields=("project",),
        partitions=2,
    )
    first = await apply_topics(kafka_config, [spec])
    assert [c.action for c in first] == ["create"]
    second = await apply_topics(kafka_config, [spec])
    assert [c.action for c in second] == ["in_sync"]
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_config.bootstrap_servers)
    await admin.start()
    try:
        await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, spec.name, {"retention.ms": "1000"})]
        )
    finally:
        await admin.close()
    drifted = await apply_topics(kafka_config, [spec], dry_run=True)
    assert [c.action for c in drifted] == ["alter_config"]
    assert "'1000'" in drifted[0].details[-1] or any("'1000'" in d for d in drifted[0].details)
    await apply_topics(kafka_config, [spec])
    assert [c.action for c in await apply_topics(kafka_config, [spec])] == ["in_sync"]

"""1% poison among valid events, then a burst: valid neighbours stored, poison dead-lettered,
and the dead-letter limit stops the sink on the burst instead of dead-lettering everything."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import orjson
import pytest

from meterstream_contracts import TOPICS, encode_event
from meterstream_contracts.derived import DeadLetter
from meterstream_kafka import KafkaConfig, make_producer, send_messages
from tests.helpers import ServerStore
from tests.integration.kafka_io import end_offsets, read_from
from tests.reliability.sink_harness import SinkHarness, completions, stored_rows

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

VALID = 9_900
POISON = 100
BURST = 1_000


def poison_line(rng: random.Random, project: str, index: int) -> bytes:
    """One of several ways a producer breaks the contract, tagged with a findable id."""
    event_id = str(uuid.UUID(int=rng.getrandbits(128)))
    base = {"kind": "completion", "project": project, "model": "m", "event_id": event_id}
    broken = [
        {**base, "started_at": "2026-11-20T00:00:00Z", "latency_ms": -1},
        {**base, "started_at": "2026-11-20T00:00:00Z", "latency_ms": 5, "latncy": 1},
        {**base, "started_at": "not a time", "latency_ms": 5},
        {**base, "started_at": "2026-11-20T00:00:00Z", "latency_ms": "slow"},
    ][index % 4]
    return orjson.dumps(broken)


async def send_mixed(kafka: KafkaConfig, project: str) -> set[str]:
    """Envelopes of 100 lines with 1% poison; half marked validated (a buggy trusted producer)."""
    rng = random.Random(11)
    good = [encode_event(e) for e in completions(project, VALID)]
    bad = [poison_line(rng, project, i) for i in range(POISON)]
    lines = good + bad
    rng.shuffle(lines)
    producer = make_producer(kafka)
    await producer.start()
    try:
        topic = TOPICS.for_kind("completion").name
        for start in range(0, len(lines), 100):
            value = b"\n".join(lines[start : start + 100])
            validated = (start // 100) % 2 == 0
            await send_messages(producer, topic, [(project.encode(), value)], validated=validated)
    finally:
        await producer.stop()
    return {orjson.loads(line)["event_id"] for line in bad}


async def send_burst(kafka: KafkaConfig, project: str) -> None:
    rng = random.Random(12)
    producer = make_producer(kafka)
    await producer.start()
    try:
        topic = TOPICS.for_kind("completion").name
        lines = [poison_line(rng, project, i) for i in range(BURST)]
        for start in range(0, BURST, 100):
            value = b"\n".join(lines[start : start + 100])
            await send_messages(producer, topic, [(project.encode(), value)])
    finally:
        await producer.stop()


async def test_poison_is_dead_lettered_valid_neighbours_kept_and_a_burst_stops_the_sink(
    kafka_config: KafkaConfig,
    tmp_path: Path,
    project_name: str,
    server_store: ServerStore,
) -> None:
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    await harness.prepare()
    dlq_start = await end_offsets(kafka_config, TOPICS.dead_letter.name)
    poison_ids = await send_mixed(kafka_config, project_name)
    sink = harness.start("mixed", max_batch_rows="3000")
    await harness.wait_caught_up(sink)
    assert sink.stop() == 0, sink.tail()

    def mine(values: list[bytes]) -> list[DeadLetter]:
        letters = [DeadLetter.model_validate_json(v) for v in values]
        return [d for d in letters if orjson.loads(d.payload).get("event_id") in poison_ids]

    letters = mine(await read_from(kafka_config, dlq_start, until=lambda v: len(mine(v)) >= POISON))
    assert {orjson.loads(d.payload)["event_id"] for d in letters} == poison_ids
    reasons = " ".join(d.reason for d in letters)
    for field in ("latency_ms", "latncy", "started_at"):
        assert field in reasons

    rows = stored_rows(
        server_store.warehouse,
        "SELECT count() AS n, countIf(latency_ms < 0) AS negative"
        " FROM raw_completions FINAL WHERE project = {p:String}",
        p=project_name,
    )
    assert rows[0] == {"n": VALID, "negative": 0}

    await send_burst(kafka_config, project_name)
    tripped = harness.start("burst", max_batch_rows="3000", max_consecutive_dead_letters="500")
    code = tripped.wait(timeout=120)
    assert code != 0
    assert "consecutive invalid events" in tripped.tail(80)
    assert await harness.lag() > 0, "the batch that tripped the limit must stay uncommitted"

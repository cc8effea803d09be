"""Dead letters an operator can use, through a real sink and ClickHouse and the
`meterstream dlq` command: listed per project with their place and reason, shown as the
bytes that were sent, read through scoped SQL, stored once when the raw topics are
replayed, and sent back to their topic at most once."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, make_producer, send_messages
from meterstream_kafka.offsets import commit_group_offsets, end_offsets
from meterstream_query import run_analyst_sql
from tests.helpers import ServerStore
from tests.reliability.sink_harness import SinkHarness

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

TOPIC = TOPICS.for_kind("completion").name


def meterstream(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meterstream_cli", *args],
        env={**os.environ, **env, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dead_letters(store: ServerStore, project: str) -> int:
    (row,) = store.warehouse.query_rows(
        "SELECT count() AS n FROM dead_letters FINAL WHERE project = {p:String}",
        params={"p": project},
    )
    return int(row["n"])


def wait_for(condition: Callable[[], bool], what: str, within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


async def send_raw(kafka: KafkaConfig, lines: list[bytes], key: bytes) -> None:
    producer = make_producer(kafka)
    await producer.start()
    try:
        await send_messages(producer, TOPIC, [(key, b"\n".join(lines))])
    finally:
        await producer.stop()


def test_dead_letters_are_listed_shown_stored_once_and_replayed_once(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, server_store: ServerStore
) -> None:
    now = datetime.now(UTC).isoformat()
    valid = orjson.dumps({"kind": "completion", "project": project_name, "model": "m",
                          "started_at": now, "latency_ms": 5.0})  # fmt: skip
    negative = valid.replace(b'"latency_ms":5.0', b'"latency_ms":-1.0')
    unknown = valid[:-1] + b',"colour":"bleu"}'
    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    start = asyncio.run(end_offsets(kafka_config, [TOPIC]))
    sink = harness.start("sink")
    env = {"MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers, **server_store.env}
    try:
        asyncio.run(send_raw(kafka_config, [valid, negative, unknown], project_name.encode()))
        wait_for(lambda: dead_letters(server_store, project_name) == 2, "two dead letters")

        listed = meterstream("dlq", "list", "--project", project_name, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        letters = orjson.loads(listed.stdout)
        assert [letter["project"] for letter in letters] == [project_name] * 2
        by_line = {letter["position"].rsplit(":", 1)[1]: letter for letter in letters}
        assert "latency_ms" in by_line["1"]["reason"]
        assert "colour" in by_line["2"]["reason"]
        position = by_line["1"]["position"]

        shown = meterstream("dlq", "show", position, "--project", project_name, env=env)
        assert shown.returncode == 0, shown.stderr
        assert negative.decode() in shown.stdout  # the bytes as they were sent, not base64
        other = meterstream("dlq", "show", position, "--project", "someone-else", env=env)
        assert other.returncode == 1

        scoped = run_analyst_sql(
            server_store.warehouse,
            project=project_name,
            sql="SELECT count() AS n, min(payload_text) AS sent FROM dead_letters",
        )
        assert scoped["rows"][0]["n"] == 2
        assert scoped["rows"][0]["sent"] in (negative.decode(), unknown.decode())

        replay = meterstream("dlq", "replay", position, "--project", project_name, env=env)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        again = meterstream("dlq", "replay", position, "--project", project_name, env=env)
        assert again.returncode == 2
        assert "replayed already" in again.stdout
        # the replayed event is read again (still invalid here: dead-lettered at its new place)
        wait_for(lambda: dead_letters(server_store, project_name) == 3, "the replay's letter")
        relisted = orjson.loads(
            meterstream("dlq", "list", "--project", project_name, "--json", env=env).stdout
        )
        assert sum(1 for letter in relisted if letter["replayed_at"]) == 1
    finally:
        sink.stop()

    # replaying the raw topic from before the test: the same letters, stored once
    replay_group = SinkHarness(kafka_config, tmp_path / "again", server_store.env)
    (tmp_path / "again").mkdir()
    asyncio.run(replay_group.prepare())  # at every topic's end ...
    asyncio.run(commit_group_offsets(kafka_config, replay_group.group, start))  # but this one
    second = replay_group.start("sink-again")
    try:
        asyncio.run(replay_group.wait_caught_up(second, within_s=120))
    finally:
        second.stop()
    assert dead_letters(server_store, project_name) == 3

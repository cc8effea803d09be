"""The SDK against the real broker: every call lands on its topic as a valid, marked envelope."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from meterstream_contracts import TOPICS, decode_envelope
from meterstream_contracts.envelope import VALIDATED_HEADER
from meterstream_kafka import (
    KafkaConfig,
    LocalBroker,
    apply_topics,
    catalogue_end_offsets,
    find_broker_script,
)
from meterstream_sdk import BufferFull, Client, SdkConfig, Table, UnknownKey

pytestmark = pytest.mark.kafka


async def read_catalogue(
    config: KafkaConfig, start: dict[TopicPartition, int], project: str, wanted: int
) -> list[tuple[str, object, bool]]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=config.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    found: list[tuple[str, object, bool]] = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + 30
        while len(found) < wanted and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=300)
            for partition, messages in batches.items():
                kind = TOPICS.by_name(partition.topic).kind
                for message in messages:
                    marked = any(k == VALIDATED_HEADER for k, _ in message.headers or ())
                    decoded = decode_envelope(message.value or b"", kind=kind)
                    assert decoded.rejections == []
                    found.extend(
                        (kind, event, marked)
                        for event in decoded.events
                        if getattr(event, "project", None) == project
                    )
    finally:
        await consumer.stop()
    return found


def test_every_sdk_call_lands_on_its_topic_as_a_valid_marked_envelope(
    kafka_config: KafkaConfig, project_name: str
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    start = asyncio.run(catalogue_end_offsets(kafka_config))
    with Client(project=project_name, kafka=kafka_config) as client:
        client.register_key("thumbs_up", kind="bool")
        completion_id = client.log_completion(
            model="gpt-4o-mini", latency_ms=300.0, ttft_ms=90.0, input_tokens=200, output_tokens=40
        )
        client.log_metric(True, completion_id, "thumbs_up")
        client.log_preference("overall", completion_id, "another")
        client.log_grader_score(
            completion_id=completion_id, grader_name="judge", key="helpful", value=0.9
        )
        run = client.init_run(name="run", config={"lr": 3e-6})
        run({"train/loss": 0.3, "samples": Table(columns=["q", "a"], rows=[["1+1", "2"]])})
        run.track_api_cost(
            {"usage": {"prompt_tokens": 100, "completion_tokens": 5}},
            source="judge",
            provider="openai",
            model_name="gpt-4o",
        )
        run.track_gpu(10.0, price_per_hour_usd=2.0)
        client.register_metric("queue_depth", type="gauge")
        client.record_metric("queue_depth", 4.0)
        client.flush()
        assert client.counters["failed"] == 0
    found = asyncio.run(read_catalogue(kafka_config, start, project_name, wanted=13))
    kinds = {kind for kind, _, _ in found}
    assert kinds == {
        "metric_key",
        "completion",
        "metric_value",
        "preference",
        "grader_score",
        "training_run",
        "training_step",
        "api_cost",
        "gpu_cost",
        "instrument_point",
    }
    assert all(marked for _, _, marked in found)


def test_registered_keys_are_seen_by_another_process_through_the_compacted_topic(
    kafka_config: KafkaConfig, project_name: str
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    with Client(project=project_name, kafka=kafka_config) as first:
        first.register_key("rating", scoring_type="higher_is_better", description="stars")
        first.flush()
    with Client(project=project_name, kafka=kafka_config) as second:
        info = second.get_key("rating")
        assert info is not None
        assert info.description == "stars"
        second.log_metric(4.0, "c1", "rating")
        with pytest.raises(UnknownKey):
            second.log_metric(1.0, "c1", "not-registered")


@pytest.fixture
def spare_broker(tmp_path: Path) -> Iterator[tuple[LocalBroker, KafkaConfig]]:
    """A second real broker, on ports of its own, that a test may stop and start."""
    broker = LocalBroker(
        find_broker_script(Path(__file__)),
        settings=(
            ("MS_KAFKA_PORT", "19192"),
            ("MS_KAFKA_CONTROLLER_PORT", "19193"),
            ("MS_KAFKA_DATA", str(tmp_path / "kafka")),
        ),
    )
    address = broker.start()
    config = KafkaConfig(bootstrap_servers=address)
    asyncio.run(apply_topics(config, TOPICS))
    try:
        yield broker, config
    finally:
        broker.stop()


@pytest.mark.slow
def test_buffer_policy_holds_while_the_broker_is_stopped(
    kafka_bootstrap: str, spare_broker: tuple[LocalBroker, KafkaConfig]
) -> None:
    broker, config = spare_broker
    errors: list[tuple[Exception, int]] = []
    policy = SdkConfig(max_buffer_bytes=64 * 1024, overflow="drop_oldest", delivery_timeout_s=2.0)
    client = Client(
        project="outage",
        kafka=config,
        config=policy,
        on_delivery_error=lambda error, count: errors.append((error, count)),
    )
    strict = Client(
        project="outage",
        kafka=config,
        config=SdkConfig(max_buffer_bytes=16 * 1024, overflow="raise"),
    )
    broker.stop()
    slowest = 0.0
    for i in range(5000):
        started = time.perf_counter()
        client.log_completion(model="m", latency_ms=float(i))
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.05, "a log call waited on the network"
    assert client.counters["dropped"] > 0
    assert client.counters["buffered_bytes"] <= 64 * 1024

    def overfill() -> None:
        for i in range(5000):
            strict.log_completion(model="m", latency_ms=float(i))

    with pytest.raises(BufferFull):
        overfill()
    time.sleep(3)
    assert errors, f"giving up on a batch must reach on_delivery_error: {client.counters}"
    broker.start()
    client.log_completion(model="m", latency_ms=1.0)
    client.flush(timeout=60)
    assert client.counters["delivered"] >= 1
    client.close()
    strict.close(timeout=5)

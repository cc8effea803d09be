"""The faust app: agents over raw topics publishing derived topics (wiring only)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from meterstream_contracts import TOPICS, MessageOrigin
from meterstream_contracts.envelope import VALIDATED_HEADER, VALIDATED_HEADER_VALUE
from meterstream_kafka import KafkaConfig
from meterstream_pricing import default_registry
from meterstream_workers.config import WorkerConfig
from meterstream_workers.rollups import partials_for_message


def _is_validated(headers: Any) -> bool:
    pairs = headers.items() if hasattr(headers, "items") else headers or ()
    return any(key == VALIDATED_HEADER and value == VALIDATED_HEADER_VALUE for key, value in pairs)


def create_app(config: WorkerConfig, kafka: KafkaConfig) -> faust.App:
    brokers = ";".join(f"kafka://{host}" for host in kafka.bootstrap_servers.split(","))
    Path(config.data_dir).mkdir(parents=True, exist_ok=True)  # faust creates only the last level
    app = faust.App(
        config.app_id,
        broker=brokers,
        store="memory://",
        datadir=config.data_dir,
        web_enabled=False,
        topic_allow_declare=True,  # faust's own internal topics; ours come from the catalogue
        broker_session_timeout=config.session_timeout_s,
        broker_heartbeat_interval=config.session_timeout_s / 3,
        consumer_auto_offset_reset="earliest",
    )
    completions = TOPICS.for_kind("completion")
    rollups = TOPICS.by_name("meterstream.derived.inference_rollups")
    source = app.topic(completions.name, value_serializer="raw", key_serializer="raw")
    sink = app.topic(rollups.name, value_serializer="raw", key_serializer="raw")
    pricing = default_registry()
    headers = {VALIDATED_HEADER: VALIDATED_HEADER_VALUE}

    @app.agent(source)
    async def inference_rollups(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            origin = MessageOrigin(
                message.topic, message.partition, message.offset, int(message.timestamp * 1000)
            )
            partials = partials_for_message(
                event.value or b"",
                origin=origin,
                validated=_is_validated(event.headers),
                windows=config.window_seconds,
                pricing=pricing,
            )
            # One envelope per key: a few messages per input message, not one per partial.
            by_key: dict[bytes, list[bytes]] = {}
            for partial in partials:
                by_key.setdefault(rollups.key_of(partial), []).append(
                    partial.model_dump_json().encode()
                )
            for key, lines in by_key.items():
                await sink.send(key=key, value=b"\n".join(lines), headers=headers)

    @app.timer(interval=1.0, on_leader=False)  # type: ignore[untyped-decorator]
    async def heartbeat() -> None:
        print("workers ready", flush=True)

    return app

"""`meterstream up`, `status` and `down` as a user runs them, in a folder of their own: the
printed key writes through the gateway, everything accepted is stored once `down` returns,
and the CLI and `reconcile` read the same store while the stack serves."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from meterstream_cli.processes import free_port
from meterstream_contracts import TOPICS
from meterstream_kafka import KafkaConfig, apply_topics, start_group_at_end
from tests.helpers import ServerStore, wait_for_output

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

POSTS, PER_POST = 10, 50


def meterstream(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meterstream_cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def completions(project: str, count: int) -> bytes:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return b"\n".join(
        orjson.dumps(
            {
                "kind": "completion",
                "project": project,
                "model": f"model-{i % 2}",
                "started_at": now,
                "latency_ms": 100 + i,
                "input_tokens": 10,
                "output_tokens": 5,
            }
        )
        for i in range(count)
    )


def test_up_serves_status_reports_and_down_stops_in_order_losing_nothing(
    kafka_config: KafkaConfig, server_store: ServerStore, tmp_path: Path
) -> None:
    project = f"stack-{uuid.uuid4().hex[:8]}"
    gateway_port, api_port, grpc_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        **server_store.env,
        "MS_KAFKA_BOOTSTRAP_SERVERS": kafka_config.bootstrap_servers,
        "MS_SINK_GROUP_ID": f"stack-sink-{project}",
        "MS_WORKER_APP_ID": f"stack-workers-{project}",
        "COLUMNS": "200",
    }
    # The stack's groups start at the topics' end: its drain on `down` covers this test's
    # traffic, not what other tests left on the shared broker.
    asyncio.run(apply_topics(kafka_config, TOPICS))
    for group in (env["MS_SINK_GROUP_ID"], env["MS_WORKER_APP_ID"]):
        asyncio.run(start_group_at_end(kafka_config, group, keep_registries=True))
    out = tmp_path / "up.out"
    with out.open("wb") as sink:
        up = subprocess.Popen(
            [sys.executable, "-m", "meterstream_cli", "up", "--project", project,
             "--gateway-port", str(gateway_port), "--api-port", str(api_port),
             "--otlp-grpc-port", str(grpc_port),
             "--no-local-broker", "--no-local-clickhouse"],
            cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        text = wait_for_output(out, "meterstream is up", up, within_s=180)
        text = wait_for_output(out, "stop with Ctrl-C", up, within_s=10)
        key = re.search(r"Bearer (ms_[A-Za-z0-9_-]+)", text)
        assert key is not None, text
        assert f"MS_KAFKA_BOOTSTRAP_SERVERS={kafka_config.bootstrap_servers}" in text
        assert f"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{gateway_port}" in text
        headers = {"Authorization": f"Bearer {key.group(1)}"}
        for _ in range(POSTS):
            answer = httpx.post(
                f"http://127.0.0.1:{gateway_port}/v1/events",
                content=completions(project, PER_POST),
                headers={**headers, "Content-Type": "application/x-ndjson"},
                timeout=30,
            )
            assert answer.json()["accepted"] == PER_POST, answer.text
        # an exporter configured as most examples are, with no credentials, just works here
        exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{grpc_port}", insecure=True)
        tracing = TracerProvider()
        tracing.add_span_processor(SimpleSpanProcessor(exporter))
        with tracing.get_tracer("app").start_as_current_span("chat m") as span:
            span.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.request.model": "m"})
        tracing.shutdown()

        status = meterstream("status", cwd=tmp_path, env=env)
        assert status.returncode == 0, status.stdout + status.stderr
        for component in ("sink", "workers", "gateway", "api"):
            assert re.search(rf"{component}\s.*running", status.stdout), status.stdout
        assert "consumer lag of" in status.stdout
        assert "freshness" in status.stdout

        # `down` right after the last post: what the gateway accepted must still land.
        down = meterstream("down", cwd=tmp_path, env=env, timeout=240)
        assert down.returncode == 0, down.stdout + down.stderr
        assert up.wait(timeout=30) == 0, out.read_text()[-3000:]
    finally:
        if up.poll() is None:
            up.kill()
    log = out.read_text()
    order = ["gateway stopped", "workers drained", "sink drained", "sink stopped", "api stopped"]
    positions = [log.index(step) for step in order]
    assert positions == sorted(positions), log[-2000:]
    assert not (tmp_path / ".meterstream" / "stack" / "stack.json").exists()

    stored = server_store.warehouse.query_rows(
        "SELECT count() AS n, uniqExact(event_id) AS u FROM raw_completions FINAL"
        " WHERE project = {p:String}",
        params={"p": project},
    )[0]
    calls = POSTS * PER_POST + 1  # and the exported span
    assert (stored["n"], stored["u"]) == (calls, calls)
    check = meterstream("reconcile", "--project", project, cwd=tmp_path, env=env)
    assert check.returncode == 0, check.stdout + check.stderr
    after = meterstream("status", cwd=tmp_path, env=env)
    assert after.returncode == 1
    assert "nothing is up" in after.stdout

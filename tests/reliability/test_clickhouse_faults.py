"""Faults of the real ClickHouse server under load: SIGKILL and a restart on the same data,
then SIGSTOP for 10 s (30 s under `make reliability`). The sink pauses, retries and
resumes; the API answers 503 while the store is away, never a 500 and never past its
timeout, and recovers by itself; afterwards every event is stored once and reconcile is
clean. The server is this test's own, so the session's other tests never see the fault."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_contracts.api_keys import hash_key, new_key
from meterstream_kafka import KafkaConfig
from meterstream_warehouse import LocalClickHouse, WarehouseConfig, migrate, open_warehouse
from tests.helpers import ServerStore, local_clickhouse_at
from tests.reliability.test_pipeline_faults import Pipeline, run_under_faults

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

PAUSE_S = float(os.environ.get("MS_CLICKHOUSE_PAUSE_S", "10"))
"""10 s in CI; `make reliability` pauses 30 s."""
API_TIMEOUT_S = 3.0


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[tuple[LocalClickHouse, ServerStore]]:
    server = local_clickhouse_at(tmp_path / "clickhouse", http_port=28143, tcp_port=28920)
    server.start()
    url = server.url(user="meterstream", password="meterstream")
    warehouse = open_warehouse(WarehouseConfig(url=url, database="faults"))
    migrate(warehouse, raw_retention_days=2000)
    env = {"MS_WAREHOUSE_BACKEND": "server", "MS_WAREHOUSE_URL": url}
    env["MS_WAREHOUSE_DATABASE"] = "faults"
    yield server, ServerStore(warehouse=warehouse, env=env, logs=tmp_path)
    warehouse.close()
    server.stop()


def test_a_killed_then_paused_server_loses_and_doubles_nothing(
    kafka_config: KafkaConfig,
    own_server: tuple[LocalClickHouse, ServerStore],
    project_name: str,
) -> None:
    server, store = own_server
    api_store = open_warehouse(
        WarehouseConfig(url=store.env["MS_WAREHOUSE_URL"], database="faults",
                        query_timeout_s=API_TIMEOUT_S)
    )  # fmt: skip
    key = new_key()
    headers = {"Authorization": f"Bearer {key}"}
    api = TestClient(create_app(ApiConfig(api_keys=f"{project_name}:{hash_key(key)}"), api_store))
    answers: list[tuple[int, float, str]] = []

    def ask() -> None:
        started = time.monotonic()
        answer = api.get("/api/v1/metrics", headers=headers)
        answers.append((answer.status_code, time.monotonic() - started, answer.text))

    def faults(batch: int, pipeline: Pipeline) -> None:
        pid = server.pid()
        assert pid is not None
        if batch == 3:
            os.kill(pid, signal.SIGKILL)
            time.sleep(1.0)
            ask()
            server.start()  # on the same data
            ask()
        elif batch == 7:
            os.kill(pid, signal.SIGSTOP)
            try:
                paused = time.monotonic()
                while time.monotonic() - paused < PAUSE_S:
                    ask()
            finally:
                os.kill(pid, signal.SIGCONT)
            ask()

    with api:
        run_under_faults(kafka_config, store, store.logs, project_name, faults)
        ask()
    api_store.close()

    codes = [code for code, _, _ in answers]
    assert 500 not in codes, answers
    assert set(codes) <= {200, 503}, answers
    assert codes[0] == 503, answers  # killed
    assert 503 in codes[2:-2], answers  # paused
    assert codes[-1] == 200, answers  # recovered by itself
    for code, seconds, text in answers:
        assert seconds < API_TIMEOUT_S + 3, (code, seconds)
        if code == 503:
            assert "store is unavailable" in text

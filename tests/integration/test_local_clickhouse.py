"""The local ClickHouse server (infra/clickhouse) as its users meet it: a services' user that
writes, an analysts' user that reads within limits and cannot stop the server, no usable
password-less default, and data that outlives a stop, a SIGKILL and a stale PID file."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_contracts.api_keys import hash_key, new_key
from meterstream_warehouse import LocalClickHouse, WarehouseConfig, migrate, open_warehouse
from tests.helpers import local_clickhouse_at

pytestmark = [pytest.mark.clickhouse]

HTTP_PORT = 28133


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalClickHouse]:
    """A server of this test's own, on its own ports and data folder."""
    local = local_clickhouse_at(tmp_path / "clickhouse", http_port=HTTP_PORT, tcp_port=28910)
    local.start()
    yield local
    local.stop()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(sql: str, *, user: str, password: str) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{HTTP_PORT}/", content=sql, auth=(user, password), timeout=30
    )


def services(sql: str) -> str:
    response = run(sql, user="meterstream", password="meterstream")
    assert response.status_code == 200, response.text
    return response.text.strip()


def test_users_can_do_what_their_role_allows_and_nothing_else(server: LocalClickHouse) -> None:
    services("CREATE TABLE default.t (a Int32) ENGINE = MergeTree ORDER BY a")
    services("INSERT INTO default.t VALUES (1), (2), (3)")
    analyst = run("SELECT sum(a) FROM default.t", user="analyst", password="analyst")
    assert analyst.text.strip() == "6"

    refused = run("INSERT INTO default.t VALUES (4)", user="analyst", password="analyst")
    assert refused.status_code != 200
    assert "ACCESS_DENIED" in refused.text or "READONLY" in refused.text, refused.text
    raised = run(
        "SELECT 1 SETTINGS max_memory_usage = 100000000000", user="analyst", password="analyst"
    )
    assert "SETTING_CONSTRAINT_VIOLATION" in raised.text

    # The keep-alive statement is what keeps the listeners open: nobody else may end it,
    # and it holds no core while it waits.
    pid = server.pid()
    assert pid is not None
    before = cpu_seconds(pid)
    time.sleep(3)
    assert cpu_seconds(pid) - before < 0.5
    for user, password in (("analyst", "analyst"), ("meterstream", "meterstream")):
        run("KILL QUERY WHERE 1 SYNC", user=user, password=password)
        assert httpx.get(f"http://127.0.0.1:{HTTP_PORT}/ping", timeout=5).text.strip() == "Ok."
    stop = run("SYSTEM STOP LISTEN HTTP", user="meterstream", password="meterstream")
    assert "ACCESS_DENIED" in stop.text

    # clickhouse-local logs itself in as a password-less `default`; over the wire that
    # user can run nothing that touches a table or the server.
    for sql in (
        "SELECT count() FROM system.numbers LIMIT 1",
        "SYSTEM STOP LISTEN HTTP",
        "SELECT * FROM file('/etc/passwd', 'LineAsString')",
    ):
        anonymous = httpx.post(f"http://127.0.0.1:{HTTP_PORT}/", content=sql, timeout=10)
        assert anonymous.status_code != 200, (sql, anonymous.text)
        assert "QUOTA_EXCEEDED" in anonymous.text or "ACCESS_DENIED" in anonymous.text
    wrong = run("SELECT 1", user="meterstream", password="wrong")
    assert "AUTHENTICATION_FAILED" in wrong.text
    assert httpx.get(f"http://127.0.0.1:{HTTP_PORT}/ping", timeout=5).text.strip() == "Ok."


def test_data_survives_stop_sigkill_and_a_stale_pid_file(server: LocalClickHouse) -> None:
    services("CREATE TABLE default.kept (a Int32) ENGINE = MergeTree ORDER BY a")
    services("INSERT INTO default.kept SELECT number FROM numbers(1000)")
    server.stop()
    assert server.pid() is None
    server.start()
    services("INSERT INTO default.kept SELECT number FROM numbers(1000, 500)")

    pid = server.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.pid() is None  # the PID file named a dead process: removed
    assert server.start() == f"http://127.0.0.1:{HTTP_PORT}"
    assert services("SELECT count(), sum(a) FROM default.kept") == f"1500\t{sum(range(1500))}"
    assert server.start() == f"http://127.0.0.1:{HTTP_PORT}"  # idempotent


def test_the_api_answers_503_while_the_store_is_down_and_recovers_by_itself(
    server: LocalClickHouse,
) -> None:
    url = server.url(user="meterstream", password="meterstream")
    warehouse = open_warehouse(WarehouseConfig(url=url, database="api", query_timeout_s=5))
    migrate(warehouse, raw_retention_days=30)
    key = new_key()
    config = ApiConfig(api_keys=f"p1:{hash_key(key)}")
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(config, warehouse)) as client:
        assert client.get("/api/v1/metrics", headers=headers).status_code == 200
        server.stop()
        started = time.monotonic()
        down = client.get("/api/v1/metrics", headers=headers)
        assert down.status_code == 503, down.text
        assert "store is unavailable" in down.json()["detail"]
        assert down.headers["Retry-After"] == "5"
        assert time.monotonic() - started < 10  # never a hang past the query timeout
        server.start()
        assert client.get("/api/v1/metrics", headers=headers).status_code == 200
    warehouse.close()

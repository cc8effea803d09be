"""Real services for the tests that declare them with a marker.

Kafka: KAFKA_BOOTSTRAP_SERVERS if set, else testcontainers when a Docker engine
answers, else the local Apache Kafka broker from infra/kafka (started here and
stopped at the end if this session started it).
ClickHouse: CLICKHOUSE_URL if set, else testcontainers when a Docker engine answers,
else the local ClickHouse server from infra/clickhouse (ClickHouse's own server code
from the locked chdb-core wheel, started here on ports of the test session's own and
stopped at the end). No test is skipped for lack of a server. Embedded chDB is the
second backend of the warehouse contract suite.
A test reaches a service only through these fixtures, and only with its marker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from meterstream_kafka import KafkaConfig, LocalBroker, find_broker_script
from meterstream_warehouse import (
    LocalClickHouse,
    Warehouse,
    WarehouseConfig,
    find_clickhouse_script,
    migrate,
    open_warehouse,
)
from meterstream_warehouse.chdb_backend import ChdbWarehouse
from tests.helpers import ServerStore

REPO = Path(__file__).resolve().parents[1]
KAFKA_IMAGE = "apache/kafka:4.1.1"
TEST_BROKER = (
    ("MS_KAFKA_PORT", "29192"),
    ("MS_KAFKA_CONTROLLER_PORT", "29193"),
    ("MS_KAFKA_DATA", str(REPO / "infra" / "kafka" / "data-test")),
)
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:25.8"
TEST_CLICKHOUSE = (
    ("MS_CLICKHOUSE_HTTP_PORT", "28123"),
    ("MS_CLICKHOUSE_TCP_PORT", "28900"),
    ("MS_CLICKHOUSE_DATA", str(REPO / "infra" / "clickhouse" / "data-test")),
)


def _docker_engine_answers() -> bool:
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
        return True
    except Exception:
        return False


def _require_marker(request: pytest.FixtureRequest, marker: str) -> None:
    if request.node.get_closest_marker(marker) is None:
        raise pytest.UsageError(
            f"{request.node.nodeid} uses a real service without @pytest.mark.{marker}"
        )


@pytest.fixture(scope="session")
def _kafka_service() -> Iterator[str]:
    if address := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield address
        return
    with ExitStack() as stack:
        if _docker_engine_answers():
            from testcontainers.kafka import KafkaContainer

            container = stack.enter_context(KafkaContainer(KAFKA_IMAGE).with_kraft())
            yield container.get_bootstrap_server()
            return
        # A broker of the test session's own, on its own ports, emptied first: runs
        # are repeatable and never touch the data of the broker `make demo` uses.
        broker = LocalBroker(find_broker_script(REPO), settings=TEST_BROKER)
        broker.reset()
        address = broker.start()
        stack.callback(broker.stop)
        yield address


@pytest.fixture
def kafka_bootstrap(request: pytest.FixtureRequest, _kafka_service: str) -> str:
    _require_marker(request, "kafka")
    return _kafka_service


@pytest.fixture
def kafka_config(kafka_bootstrap: str) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers=kafka_bootstrap)


@pytest.fixture(scope="session")
def _clickhouse_server_url() -> Iterator[str]:
    if url := os.environ.get("CLICKHOUSE_URL"):
        yield url
        return
    with ExitStack() as stack:
        if _docker_engine_answers():
            from testcontainers.clickhouse import ClickHouseContainer

            container = stack.enter_context(ClickHouseContainer(CLICKHOUSE_IMAGE))
            host = container.get_container_host_ip()
            port = container.get_exposed_port(8123)
            yield f"http://{container.username}:{container.password}@{host}:{port}"
            return
        # A server of the test session's own, on its own ports, emptied first.
        server = LocalClickHouse(find_clickhouse_script(REPO), settings=TEST_CLICKHOUSE)
        server.reset()
        server.start()
        stack.callback(server.stop)
        yield server.url(user="meterstream", password="meterstream")


@pytest.fixture
def clickhouse_url(request: pytest.FixtureRequest, _clickhouse_server_url: str) -> str:
    """The services' URL of the session's ClickHouse server."""
    _require_marker(request, "clickhouse")
    return _clickhouse_server_url


def new_database_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


def _open_backend(backend: str, tmp_path: Path, server_url: str) -> Warehouse:
    if backend == "chdb":
        return ChdbWarehouse(tmp_path / "chdb", database=new_database_name())
    return open_warehouse(WarehouseConfig(url=server_url, database=new_database_name()))


def _close(warehouse: Warehouse) -> None:
    if warehouse.backend == "server":
        warehouse.execute(f"DROP DATABASE IF EXISTS {warehouse.database}")
    warehouse.close()


@pytest.fixture(params=["chdb", "server"])
def any_warehouse(
    request: pytest.FixtureRequest, tmp_path: Path, _clickhouse_server_url: str
) -> Iterator[Warehouse]:
    """Each backend in turn, migrated, in a database of its own."""
    _require_marker(request, "clickhouse")
    warehouse = _open_backend(request.param, tmp_path, _clickhouse_server_url)
    migrate(warehouse, raw_retention_days=2000)
    yield warehouse
    _close(warehouse)


@pytest.fixture
def store(clickhouse_url: str) -> Iterator[Warehouse]:
    """The ClickHouse server, migrated, in a database of this test's own."""
    warehouse = open_warehouse(WarehouseConfig(url=clickhouse_url, database=new_database_name()))
    migrate(warehouse, raw_retention_days=2000)
    yield warehouse
    _close(warehouse)


@pytest.fixture
def server_store(store: Warehouse, clickhouse_url: str, tmp_path: Path) -> ServerStore:
    """`store`, with the environment that points a service process at it."""
    env = {
        "MS_WAREHOUSE_BACKEND": "server",
        "MS_WAREHOUSE_URL": clickhouse_url,
        "MS_WAREHOUSE_DATABASE": store.database,
    }
    return ServerStore(warehouse=store, env=env, logs=tmp_path)


@pytest.fixture
def project_name() -> str:
    """A project of this test's own, so tests sharing a broker do not see each other's rows."""
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def local_broker_pid(kafka_bootstrap: str) -> int:
    """The PID of the session's own broker process (faults are sent by PID); tests that
    need it are skipped when the broker is a container or someone else's."""
    pidfile = REPO / "infra" / "kafka" / "data-test" / "broker.pid"
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or not pidfile.exists():
        pytest.skip("the broker is not a local process of this session")
    return int(pidfile.read_text().strip())


@pytest.fixture
def local_broker(local_broker_pid: int) -> LocalBroker:
    """The session's own broker, to start again after a test killed it."""
    return LocalBroker(find_broker_script(REPO), settings=TEST_BROKER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long or not yet dependable fault tests run under `make reliability`
    (MS_RELIABILITY=full); `make test` and CI leave them out (reported as deselected)."""
    if os.environ.get("MS_RELIABILITY") == "full":
        return
    full = [item for item in items if item.get_closest_marker("reliability_full") is not None]
    if full:
        config.hook.pytest_deselected(items=full)
        items[:] = [item for item in items if item.get_closest_marker("reliability_full") is None]

"""docker-compose.yml mirrors what runs on one machine: every service's MS_* variable is a
setting some settings class reads (a misspelt one fails here), the Kafka containers get
the broker settings `infra/kafka/broker.sh` gives a three-node cluster, and the ClickHouse
container the users of the local server. Reads files and runs `broker.sh config`; starts
nothing."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from meterstream_api.config import ApiConfig
from meterstream_gateway.config import GatewayConfig
from meterstream_kafka import KafkaConfig, Replication
from meterstream_sdk import SdkConfig
from meterstream_sink.config import SinkConfig
from meterstream_warehouse import WarehouseConfig
from meterstream_workers.config import WorkerConfig

REPO = Path(__file__).resolve().parents[2]
SETTINGS: tuple[type[BaseSettings], ...] = (
    ApiConfig, GatewayConfig, KafkaConfig, SdkConfig, SinkConfig, WarehouseConfig, WorkerConfig
)  # fmt: skip
NETWORK_SHAPE = {
    "node.id", "listeners", "advertised.listeners", "controller.quorum.voters",
    "inter.broker.listener.name", "listener.security.protocol.map", "controller.listener.names",
}  # fmt: skip
"""Broker properties that differ by design: the containers' names and listeners."""


def env_names(settings: type[BaseSettings]) -> set[str]:
    """Every environment variable a settings class reads."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(choice) for choice in alias.choices}
        else:
            names.add((prefix + name).upper())
    return names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {name: str(value) for name, value in (service.get("environment") or {}).items()}


def broker_properties(node: int) -> dict[str, str]:
    """What broker.sh writes for node `node` of a three-node cluster."""
    env = {**os.environ, "MS_KAFKA_BROKERS": "3"}
    script = REPO / "infra" / "kafka" / "broker.sh"
    text = subprocess.run(
        ["bash", str(script), "config", str(node)], env=env, capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def keeper() -> ModuleType:
    path = REPO / "infra" / "clickhouse" / "keeper.py"
    spec = importlib.util.spec_from_file_location("meterstream_keeper", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_ms_variable_of_every_service_is_a_setting() -> None:
    known = set().union(*(env_names(settings) for settings in SETTINGS))
    misspelt = {
        f"{name}: {variable}"
        for name, service in compose()["services"].items()
        for variable in environment(service)
        if variable.startswith("MS_") and variable not in known
    }
    assert not misspelt, f"settings nobody reads: {sorted(misspelt)}"


def test_the_check_catches_a_misspelt_variable() -> None:
    known = set().union(*(env_names(settings) for settings in SETTINGS))
    assert "MS_KAFKA_BOOTSTRAP_SERVERS" in known
    assert "MS_GATEWAY_RAW_RETENTION_DAYS" in known
    assert "MS_KAFKA_BOOTSTRAP_SERVER" not in known


@pytest.mark.parametrize("node", [1, 2, 3])
def test_the_kafka_containers_have_the_local_cluster_s_broker_settings(node: int) -> None:
    service = compose()["services"][f"kafka-{node}"]
    from_compose = {
        variable.removeprefix("KAFKA_").lower().replace("_", "."): value
        for variable, value in environment(service).items()
        if variable.startswith("KAFKA_")
    }
    local = broker_properties(node)
    assert from_compose["node.id"] == str(node)
    compared = {key: value for key, value in local.items() if key not in NETWORK_SHAPE}
    compared.pop("log.dirs")
    assert {key: from_compose.get(key) for key in compared} == compared
    assert from_compose.keys() - NETWORK_SHAPE <= local.keys(), "set in compose only"
    replication = Replication.for_cluster(3)
    assert from_compose["min.insync.replicas"] == str(replication.min_insync) == "2"
    assert from_compose["default.replication.factor"] == str(replication.factor) == "3"
    voters = from_compose["controller.quorum.voters"].split(",")
    assert [voter.split("@")[0] for voter in voters] == ["1", "2", "3"]


def test_services_reach_all_three_brokers_and_decide_replication_from_the_cluster() -> None:
    for name, service in compose()["services"].items():
        env = environment(service)
        if "MS_KAFKA_BOOTSTRAP_SERVERS" in env:
            hosts = env["MS_KAFKA_BOOTSTRAP_SERVERS"].split(",")
            assert hosts == ["kafka-1:9092", "kafka-2:9092", "kafka-3:9092"], name
            assert "MS_KAFKA_REPLICATION_FACTOR" not in env, f"{name}: the cluster decides"


def test_the_clickhouse_container_has_the_local_server_s_users() -> None:
    services = compose()["services"]
    env = environment(services["clickhouse"])
    defaults = keeper().ServerDefaults()
    assert (env["CLICKHOUSE_USER"], env["CLICKHOUSE_PASSWORD"]) == (
        defaults.user,
        defaults.password,
    )
    url = environment(services["sink"])["MS_WAREHOUSE_URL"]
    assert url.startswith(f"http://{defaults.user}:{defaults.password}@clickhouse:8123")
    init = (REPO / "infra" / "clickhouse" / "compose" / "analysts.sql").read_text()
    volumes = " ".join(services["clickhouse"]["volumes"])
    assert "./infra/clickhouse/compose:/docker-entrypoint-initdb.d" in volumes
    user = re.search(r"CREATE USER IF NOT EXISTS (\w+) IDENTIFIED .* BY '([^']*)'", init)
    assert user is not None
    assert user.groups() == (defaults.analyst_user, defaults.analyst_password)
    assert f"GRANT SELECT ON *.* TO {defaults.analyst_user};" in init
    assert f"max_memory_usage = {defaults.analyst_max_memory_bytes} MAX" in init
    assert f"max_execution_time = {defaults.analyst_max_execution_s} MAX" in init
    assert "readonly = 2 MIN 1" in init

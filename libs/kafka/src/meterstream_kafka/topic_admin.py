"""Apply the topic catalogue to a broker, idempotently, and report drift."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from meterstream_contracts.topics import TopicSpec
from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.errors import KafkaError
from meterstream_kafka.topic_plan import (
    MIN_INSYNC,
    ObservedTopic,
    Replication,
    TopicChange,
    plan_topics,
)

_UNKNOWN_TOPIC = 3
_TOPIC_EXISTS = 36


async def observe_topics(
    admin: AIOKafkaAdminClient, specs: Iterable[TopicSpec]
) -> dict[str, ObservedTopic]:
    """Partition counts and the catalogue-relevant configs of the topics that exist."""
    specs = list(specs)
    described = await admin.describe_topics([spec.name for spec in specs])
    found = [
        item for item in described if item["error_code"] != _UNKNOWN_TOPIC and item["partitions"]
    ]
    counts = {item["topic"]: len(item["partitions"]) for item in found}
    if not counts:
        return {}
    replicas = {
        item["topic"]: min(len(partition["replicas"]) for partition in item["partitions"])
        for item in found
    }
    wanted_keys = {spec.name: [*spec.broker_config(), MIN_INSYNC] for spec in specs}
    resources = [
        ConfigResource(ConfigResourceType.TOPIC, name, dict.fromkeys(wanted_keys[name]))
        for name in counts
    ]
    configs: dict[str, dict[str, str]] = {name: {} for name in counts}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            entries = resource["config_entries"]
            configs[resource["resource_name"]] = {
                entry["config_names"]: entry["config_value"] for entry in entries
            }
    return {
        name: ObservedTopic(name, counts[name], configs[name], replicas[name]) for name in counts
    }


async def cluster_replication(admin: AIOKafkaAdminClient, config: KafkaConfig) -> Replication:
    """The replication the catalogue's topics get on this cluster (its brokers counted)."""
    brokers = len((await admin.describe_cluster())["brokers"])
    try:
        return Replication.for_cluster(brokers, config.replication_factor)
    except ValueError as error:
        raise KafkaError(f"{error} (at {config.bootstrap_servers})") from error


@contextlib.asynccontextmanager
async def admin_client(config: KafkaConfig) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client of the cluster at `config`, started and closed."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, request_timeout_ms=config.request_timeout_ms
    )
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def replication_of(config: KafkaConfig) -> Replication:
    """The replication of this project's topics on the cluster at `config`."""
    async with admin_client(config) as admin:
        return await cluster_replication(admin, config)


async def cluster_id_of(config: KafkaConfig) -> str:
    """The id of the cluster at `config` (a new one after its storage was formatted again)."""
    async with admin_client(config) as admin:
        return str((await admin.describe_cluster())["cluster_id"])


async def apply_topics(
    config: KafkaConfig,
    specs: Iterable[TopicSpec],
    *,
    dry_run: bool = False,
    add_partitions: bool = False,
) -> list[TopicChange]:
    """Create missing topics and fix config drift; returns the plan that was (or would be) run.

    Partition growth is applied only with `add_partitions` (it re-maps keys).
    """
    specs = list(specs)
    async with admin_client(config) as admin:
        replication = await cluster_replication(admin, config)
        changes = plan_topics(specs, await observe_topics(admin, specs), replication)
        if not dry_run:
            await _run_changes(admin, changes, replication, add_partitions=add_partitions)
    return changes


async def _run_changes(
    admin: AIOKafkaAdminClient,
    changes: list[TopicChange],
    replication: Replication,
    *,
    add_partitions: bool,
) -> None:
    creates = [
        NewTopic(
            change.spec.name,
            change.spec.partitions,
            replication.factor,
            topic_configs=replication.topic_config(change.spec),
        )
        for change in changes
        if change.action == "create"
    ]
    if creates:
        response = await admin.create_topics(creates)
        for error in response.to_object()["topic_errors"]:
            if error["error_code"] not in (0, _TOPIC_EXISTS):
                raise KafkaError(f"creating {error['topic']}: {error['error_message']}")
    alters = [
        ConfigResource(
            ConfigResourceType.TOPIC, change.spec.name, replication.topic_config(change.spec)
        )
        for change in changes
        if change.action == "alter_config"
    ]
    if alters:
        await admin.alter_configs(alters)
    grows = {
        change.spec.name: NewPartitions(change.spec.partitions)
        for change in changes
        if change.action == "add_partitions"
    }
    if grows and add_partitions:
        await admin.create_partitions(grows)

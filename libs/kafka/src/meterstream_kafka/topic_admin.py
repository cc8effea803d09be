"""Apply the topic catalogue to a broker, idempotently, and report drift."""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from meterstream_contracts.topics import TopicSpec
from meterstream_kafka.config import KafkaConfig
from meterstream_kafka.errors import KafkaError
from meterstream_kafka.topic_plan import ObservedTopic, TopicChange, plan_topics

_UNKNOWN_TOPIC = 3
_TOPIC_EXISTS = 36


async def observe_topics(
    admin: AIOKafkaAdminClient, specs: Iterable[TopicSpec]
) -> dict[str, ObservedTopic]:
    """Partition counts and the catalogue-relevant configs of the topics that exist."""
    specs = list(specs)
    described = await admin.describe_topics([spec.name for spec in specs])
    counts = {
        item["topic"]: len(item["partitions"])
        for item in described
        if item["error_code"] != _UNKNOWN_TOPIC and item["partitions"]
    }
    if not counts:
        return {}
    wanted_keys = {spec.name: spec.broker_config().keys() for spec in specs}
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
    return {name: ObservedTopic(name, counts[name], configs[name]) for name in counts}


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
    admin = AIOKafkaAdminClient(
        bootstrap_servers=config.bootstrap_servers, request_timeout_ms=config.request_timeout_ms
    )
    await admin.start()
    try:
        changes = plan_topics(specs, await observe_topics(admin, specs))
        if not dry_run:
            await _run_changes(admin, changes, config, add_partitions=add_partitions)
    finally:
        await admin.close()
    return changes


async def _run_changes(
    admin: AIOKafkaAdminClient,
    changes: list[TopicChange],
    config: KafkaConfig,
    *,
    add_partitions: bool,
) -> None:
    creates = [
        NewTopic(
            change.spec.name,
            change.spec.partitions,
            config.replication_factor,
            topic_configs=change.spec.broker_config(),
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
        ConfigResource(ConfigResourceType.TOPIC, change.spec.name, change.spec.broker_config())
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

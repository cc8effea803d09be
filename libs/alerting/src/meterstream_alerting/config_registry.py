"""Reading and changing a project's managed rules and silences on the alert_config topic.

Used by the CLI and the HTTP API. A change is checked exactly as the evaluator will
read it (`managed_rule`, `managed_silence`) and published only when valid; the
running workers pick it up from the topic within a second.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any, Literal

from meterstream_alerting.managed import managed_rule, managed_silence
from meterstream_alerting.rules import AlertRule, Silence
from meterstream_contracts import TOPICS, AlertConfig
from meterstream_kafka import KafkaConfig, publish_once, read_topics
from meterstream_kafka.registry_feed import registry_records

Item = Literal["rule", "silence"]


class UnknownItem(LookupError):
    """No such rule or silence in the project."""


async def project_config(kafka: KafkaConfig, project: str, item: Item) -> dict[str, dict[str, Any]]:
    """The project's rules (or silences) in force, by id: the latest record of each."""
    latest: dict[str, dict[str, Any]] = {}
    for message in await read_topics(kafka, [TOPICS.for_kind("alert_config").name]):
        for record in registry_records(message.value, message.timestamp_ms):
            if record.get("project") == project and record.get("item") == item:
                latest[str(record["item_id"])] = record
    return {ident: record for ident, record in latest.items() if not record.get("deleted")}


async def put_rule(
    kafka: KafkaConfig, project: str, item_id: str, spec: Mapping[str, Any], *, author: str = ""
) -> AlertRule:
    """Create or replace a rule of the project; InvalidRules (nothing published) when bad."""
    rule = managed_rule(project, item_id, spec)
    clean = dict(spec)
    clean.pop("id", None)
    record = AlertConfig(project=project, item="rule", item_id=item_id, spec=clean, author=author)
    await publish_once(kafka, [record])
    return rule


async def put_silence(
    kafka: KafkaConfig,
    project: str,
    spec: Mapping[str, Any],
    *,
    item_id: str | None = None,
    author: str = "",
) -> tuple[str, Silence]:
    """Create (or replace) a silence of the project; returns its id."""
    ident = item_id or f"silence-{secrets.token_hex(4)}"
    silence = managed_silence(project, ident, spec)
    record = AlertConfig(
        project=project, item="silence", item_id=ident, spec=dict(spec), author=author
    )
    await publish_once(kafka, [record])
    return ident, silence


async def delete_item(kafka: KafkaConfig, project: str, item: Item, item_id: str) -> None:
    """Retire a rule or silence of the project; UnknownItem when it has none by that id."""
    if item_id not in await project_config(kafka, project, item):
        raise UnknownItem(f"project {project!r} has no {item} {item_id!r}")
    await publish_once(
        kafka, [AlertConfig(project=project, item=item, item_id=item_id, deleted=True)]
    )

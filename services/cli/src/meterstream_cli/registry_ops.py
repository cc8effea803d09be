"""Managing the shared registries (metric definitions, prices) and re-pricing history.

Each operation reads the registry's compacted topic, checks the change, and
publishes records; nothing is published when any record of a request is bad.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from meterstream_contracts import TOPICS, MetricDefinition, ModelPrice, split_envelope
from meterstream_contracts.derived import CostEntry
from meterstream_derivations.definitions import InvalidDefinition, compile_definition
from meterstream_derivations.ledger import Repricing, plan_repricing
from meterstream_kafka import KafkaConfig, make_producer, publish_once, read_topics, send_messages
from meterstream_kafka.registry_feed import MALFORMED, registry_records
from meterstream_pricing import PricingRegistry, default_registry


class RegistryError(ValueError):
    """A change the registry refuses; the message names the record and the field."""


async def _records(kafka: KafkaConfig, kind: str) -> list[dict[str, Any]]:
    """The registry's records in log order (lines that are not JSON objects left out)."""
    return [
        record
        for message in await read_topics(kafka, [TOPICS.for_kind(kind).name])
        for record in registry_records(message.value, message.timestamp_ms)
    ]


async def definitions(kafka: KafkaConfig, project: str) -> dict[str, dict[str, Any]]:
    """The project's current definitions (deleted ones left out), by id."""
    latest: dict[str, dict[str, Any]] = {}
    for record in await _records(kafka, "metric_definition"):
        if record.get("project") == project and "definition_id" in record:
            latest[str(record["definition_id"])] = record
    return {ident: r for ident, r in latest.items() if not r.get("deleted")}


def checked_definition(record: Mapping[str, Any], *, where: str = "") -> MetricDefinition:
    """A definition validated by its contract and compiled (a bad expression is refused)."""
    prefix = f"{where}: " if where else ""
    try:
        definition = MetricDefinition.model_validate(record)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "definition"
        raise RegistryError(f"{prefix}{field}: {first['msg']}") from error
    if not definition.deleted:
        try:
            compile_definition(definition.model_dump(mode="json"))
        except InvalidDefinition as error:
            raise RegistryError(f"{prefix}{error}") from error
    return definition


async def put_definitions(kafka: KafkaConfig, records: Sequence[Mapping[str, Any]]) -> int:
    """Create or replace definitions (bulk: all are checked before any is published)."""
    checked = [
        checked_definition(record, where=f"definition {index}")
        for index, record in enumerate(records)
    ]
    await publish_once(kafka, checked)
    return len(checked)


async def change_definition(
    kafka: KafkaConfig, project: str, definition_id: str, **changes: Any
) -> MetricDefinition:
    """Update fields of a definition (e.g. `active=False` to switch it off, or `deleted=True`)."""
    current = (await definitions(kafka, project)).get(definition_id)
    if current is None:
        raise RegistryError(f"definition_id: no definition {definition_id!r} in {project!r}")
    record = {**current, **changes}
    record.pop("event_id", None)
    record.pop("time", None)
    definition = checked_definition(record)
    await publish_once(kafka, [definition])
    return definition


async def pricing_registry(kafka: KafkaConfig) -> PricingRegistry:
    """Built-in list prices plus every version published to the shared registry."""
    registry = default_registry()
    for record in await _records(kafka, "model_price"):
        try:
            registry.apply_record(record)
        except MALFORMED:
            continue  # the sink dead-letters what breaks the contract
    return registry


async def set_price(kafka: KafkaConfig, price: ModelPrice) -> str:
    await publish_once(kafka, [price])
    return f"{price.provider}/{price.model}@{price.effective_from.isoformat()}"


@dataclass(frozen=True, slots=True)
class RepricingReport:
    plan: Repricing
    slices: int
    delta_usd: float


async def reprice(
    kafka: KafkaConfig,
    *,
    windows: Sequence[int],
    only: Mapping[str, str] | None = None,
    dry_run: bool = False,
) -> RepricingReport:
    """Bring every charge in the ledger to today's registry; publish the corrections.

    Reversals and new charges go to the cost ledger; cost-only adjustment
    partials go to the inference partials, so merged windows and totals follow.
    """
    registry = await pricing_registry(kafka)
    ledger_topic = "meterstream.derived.cost_ledger"
    lines = [
        CostEntry.model_validate_json(line)
        for message in await read_topics(kafka, [ledger_topic])
        for line in split_envelope(message.value)
    ]
    plan = plan_repricing(lines, registry, windows=windows, only=only)
    delta = sum(entry.cost_usd for entry in plan.ledger)
    slices = len({entry.entry_id for entry in plan.ledger})
    if not dry_run and plan.ledger:
        producer = make_producer(kafka)
        await producer.start()
        try:
            for topic, records in (
                (ledger_topic, plan.ledger),
                ("meterstream.derived.inference_rollups", plan.adjustments),
            ):
                spec = TOPICS.by_name(topic)
                messages = [(spec.key_of(r), r.model_dump_json().encode()) for r in records]
                await send_messages(producer, topic, messages, validated=True)
        finally:
            await producer.stop()
    return RepricingReport(plan, slices, delta)

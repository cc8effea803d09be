"""The topic catalogue: every Kafka topic the pipeline reads or writes, in one place.

Code never spells a topic name; it asks the catalogue (`TOPICS.for_kind("completion")`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel

from meterstream_contracts import derived, events

TopicRole = Literal["raw", "registry", "derived", "dead_letter", "alerts"]
CleanupPolicy = Literal["delete", "compact"]

DAY_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic: its name, what its values are, how messages are keyed and kept."""

    name: str
    role: TopicRole
    value_schema: type[BaseModel]
    key_fields: tuple[str, ...]
    partitions: int
    cleanup_policy: CleanupPolicy = "delete"
    retention_ms: int | None = 7 * DAY_MS
    description: str = ""

    @property
    def kind(self) -> str:
        """The event kind carried, taken from the value schema's `kind` literal."""
        field = self.value_schema.model_fields["kind"]
        return str(field.default)

    def broker_config(self) -> dict[str, str]:
        """The topic-level broker settings this spec asks for."""
        config: dict[str, str] = {"cleanup.policy": self.cleanup_policy}
        if self.cleanup_policy == "delete" and self.retention_ms is not None:
            config["retention.ms"] = str(self.retention_ms)
        if self.cleanup_policy == "compact":
            config["min.compaction.lag.ms"] = "0"
            config["segment.ms"] = str(3600 * 1000)
        return config

    def key_of(self, record: Mapping[str, object] | BaseModel) -> bytes:
        """The message key: the key fields' values joined by '/'."""
        if isinstance(record, BaseModel):
            values = [getattr(record, name) for name in self.key_fields]
        else:
            values = [record.get(name) for name in self.key_fields]
        return "/".join(["" if value is None else str(value) for value in values]).encode()


def _raw(
    kind: str, suffix: str, key_fields: tuple[str, ...], partitions: int, text: str
) -> TopicSpec:
    return TopicSpec(
        name=f"meterstream.raw.{suffix}",
        role="raw",
        value_schema=events.EVENT_MODELS[kind],
        key_fields=key_fields,
        partitions=partitions,
        description=text,
    )


def _registry(kind: str, suffix: str, key_fields: tuple[str, ...], text: str) -> TopicSpec:
    return TopicSpec(
        name=f"meterstream.registry.{suffix}",
        role="registry",
        value_schema=events.EVENT_MODELS[kind],
        key_fields=key_fields,
        partitions=1,
        cleanup_policy="compact",
        retention_ms=None,
        description=text,
    )


def _derived(
    suffix: str, schema: type[BaseModel], key_fields: tuple[str, ...], text: str
) -> TopicSpec:
    return TopicSpec(
        name=f"meterstream.derived.{suffix}",
        role="derived",
        value_schema=schema,
        key_fields=key_fields,
        partitions=4,
        description=text,
    )


class TopicCatalogue:
    """Lookup over the topic specs, by name and by event kind."""

    def __init__(self, specs: tuple[TopicSpec, ...]) -> None:
        self._by_name = {spec.name: spec for spec in specs}
        self._by_kind = {spec.kind: spec for spec in specs if spec.role in ("raw", "registry")}
        if len(self._by_name) != len(specs):
            raise ValueError("duplicate topic name in catalogue")

    def __iter__(self) -> Iterator[TopicSpec]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def by_name(self, name: str) -> TopicSpec:
        return self._by_name[name]

    def for_kind(self, kind: str) -> TopicSpec:
        """The topic producers write events of `kind` to."""
        return self._by_kind[kind]

    def with_role(self, *roles: TopicRole) -> tuple[TopicSpec, ...]:
        return tuple(spec for spec in self if spec.role in roles)

    @property
    def event_topics(self) -> tuple[TopicSpec, ...]:
        """Topics carrying producer events (raw and registry): what the sink stores."""
        return self.with_role("raw", "registry")

    @property
    def dead_letter(self) -> TopicSpec:
        return self.with_role("dead_letter")[0]


TOPICS: Final = TopicCatalogue(
    (
        _raw("completion", "completions", ("project", "model"), 8, "Model calls."),
        _raw("grader_score", "grader_scores", ("project",), 4, "Grader results."),
        _raw("metric_value", "metric_values", ("project",), 4, "User metric values."),
        _raw("preference", "preferences", ("project",), 4, "Pairwise preferences."),
        _raw("training_step", "training_steps", ("project", "run_id"), 4, "Per-step telemetry."),
        _raw("api_cost", "api_costs", ("project", "run_id"), 4, "Model API and judge spend."),
        _raw("gpu_cost", "gpu_costs", ("project", "run_id"), 4, "GPU time."),
        _raw("instrument_point", "instrument_points", ("project", "name"), 4, "OTel points."),
        _registry("metric_key", "metric_keys", ("project", "key"), "Metric key registry."),
        _registry(
            "metric_definition",
            "metric_definitions",
            ("project", "definition_id"),
            "Metric definitions.",
        ),
        _registry("training_run", "training_runs", ("project", "run_id"), "Run records."),
        _registry(
            "model_price",
            "model_prices",
            ("provider", "model", "effective_from"),
            "Price versions (the shared pricing registry).",
        ),
        _registry(
            "alert_config",
            "alert_config",
            ("project", "item", "item_id"),
            "Alert rules and silences managed through the CLI and the HTTP API.",
        ),
        TopicSpec(
            name="meterstream.derived.inference_rollups",
            role="derived",
            value_schema=derived.InferenceRollup,
            key_fields=("project", "model"),
            partitions=4,
            description="Partial and final per-(project, model) window aggregates.",
        ),
        _derived(
            "inference_windows",
            derived.InferenceWindow,
            ("project", "model"),
            "Merged windows: every partial so far, with a revision and a final flag.",
        ),
        _derived(
            "usage_totals",
            derived.UsageTotals,
            ("project",),
            "Cumulative tokens and cost per (project, model) and per project.",
        ),
        _derived(
            "cost_ledger",
            derived.CostEntry,
            ("project",),
            "Spend per input slice and price version, with re-pricing reversals.",
        ),
        _derived(
            "feedback_rollups",
            derived.FeedbackRollup,
            ("project", "key"),
            "Partial feedback aggregates per key and window.",
        ),
        TopicSpec(
            name="meterstream.derived.training_history",
            role="derived",
            value_schema=derived.TrainingHistory,
            key_fields=("project", "run_id"),
            partitions=4,
            description="One row per (run, step) with ART-style derived metrics.",
        ),
        TopicSpec(
            name="meterstream.dlq",
            role="dead_letter",
            value_schema=derived.DeadLetter,
            key_fields=("source_topic",),
            partitions=2,
            retention_ms=30 * DAY_MS,
            description="Events that failed their contract or could not be stored.",
        ),
        TopicSpec(
            name="meterstream.alerts",
            role="alerts",
            value_schema=derived.AlertEvent,
            key_fields=("dedup_key",),
            partitions=1,
            retention_ms=30 * DAY_MS,
            description="Alert firing and resolved events.",
        ),
    )
)

"""The event contracts: one pydantic model per kind of event a producer emits.

Every event carries `schema_version`, `event_id`, `time` (event time, UTC),
`project` and `kind`. Models are frozen and reject unknown fields, so a typo
in a producer is an error naming the field rather than a silently lost value.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from meterstream_contracts.fields import (
    MAX_ERROR_TYPE_CHARS,
    MAX_ID_CHARS,
    FiniteFloat,
    Identifier,
    Labels,
    Name,
    NonNegativeFloat,
    ProjectName,
    Text,
    TokenCount,
    UtcDatetime,
    new_uuid,
    utc_now,
)

SCHEMA_VERSION: Literal[1] = 1

MetricCategory = Literal["system", "grader", "user", "custom"]
ScoringType = Literal["higher_is_better", "lower_is_better"]
CompletionStatus = Literal["ok", "error", "timeout", "cancelled"]


class Event(BaseModel):
    """Fields shared by every event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="The event kind; each model fixes it to a literal.")
    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: UUID = Field(default_factory=new_uuid)
    time: UtcDatetime = Field(default_factory=utc_now, description="Event time (UTC).")
    project: ProjectName


class Completion(Event):
    """One model call as seen by the caller: timings, token counts, outcome."""

    kind: Literal["completion"] = "completion"
    completion_id: Identifier = Field(default_factory=lambda: new_uuid().hex)
    model: Name
    provider: Name | None = None
    started_at: UtcDatetime
    ttft_ms: NonNegativeFloat | None = Field(None, description="Time to first token.")
    latency_ms: NonNegativeFloat
    input_tokens: TokenCount = 0
    output_tokens: TokenCount = 0
    cached_tokens: TokenCount = Field(0, description="Input tokens served from a prompt cache.")
    cache_creation_tokens: TokenCount = Field(
        0, description="Input tokens written to a prompt cache (part of input_tokens)."
    )
    cache_creation_1h_tokens: TokenCount = Field(
        0, description="Of cache_creation_tokens, those written for one hour."
    )
    reasoning_tokens: TokenCount = Field(
        0, description="Output tokens spent reasoning (part of output_tokens)."
    )
    reported_cost_usd: NonNegativeFloat | None = Field(
        None,
        description="The cost the provider reported (OpenRouter, LiteLLM); kept beside the"
        " cost the pipeline computes, never instead of it.",
    )
    status: CompletionStatus = "ok"
    error_type: Annotated[str, Field(max_length=MAX_ERROR_TYPE_CHARS)] | None = None
    streamed: bool = False
    labels: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.ttft_ms is not None and self.ttft_ms > self.latency_ms:
            raise ValueError("ttft_ms must not exceed latency_ms")
        if self.cached_tokens + self.cache_creation_tokens > self.input_tokens:
            raise ValueError("cached_tokens + cache_creation_tokens must not exceed input_tokens")
        if self.cache_creation_1h_tokens > self.cache_creation_tokens:
            raise ValueError("cache_creation_1h_tokens must not exceed cache_creation_tokens")
        if self.reasoning_tokens > self.output_tokens:
            raise ValueError("reasoning_tokens must not exceed output_tokens")
        return self


class GraderScore(Event):
    """A score written by a grader (judge, pre-built, custom or external) for a completion."""

    kind: Literal["grader_score"] = "grader_score"
    completion_id: Identifier
    grader_name: Name
    grader_type: Literal["judge", "prebuilt", "custom", "external"]
    key: Name
    value: FiniteFloat
    passed: bool | None = None
    reason: Text | None = None


class MetricValue(Event):
    """A user (or custom computed) metric logged against a completion."""

    kind: Literal["metric_value"] = "metric_value"
    completion_id: Identifier
    key: Name
    value: FiniteFloat = Field(
        description="Scalar value; booleans are stored as 1.0 / 0.0.",
        json_schema_extra={"type": ["number", "boolean"]},
    )
    category: Literal["user", "custom"] = "user"


class Preference(Event):
    """A pairwise preference: `preferred_completion_id` won over `other_completion_id`."""

    kind: Literal["preference"] = "preference"
    key: Name
    preferred_completion_id: Identifier
    other_completion_id: Identifier

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.preferred_completion_id == self.other_completion_id:
            raise ValueError("preferred_completion_id and other_completion_id must differ")
        return self


class MetricKey(Event):
    """Registration (or deletion, with `deleted`) of a metric key for a project."""

    kind: Literal["metric_key"] = "metric_key"
    key: Name
    value_kind: Literal["scalar", "bool"] = "scalar"
    scoring: ScoringType = "higher_is_better"
    category: Literal["system", "grader", "user"] = "user"
    description: Text = ""
    deleted: bool = False


class MetricDefinition(Event):
    """A metric evaluated on each event: predefined, judge-style or a custom expression."""

    kind: Literal["metric_definition"] = "metric_definition"
    definition_id: Identifier
    name: Name
    definition_type: Literal["predefined", "judge", "custom"]
    predefined: Name | None = Field(None, description="Name of a predefined metric.")
    grader_key: Name | None = Field(None, description="Grader key whose results this reads.")
    expression: Annotated[str, Field(max_length=2048)] | None = None
    applies_to: Literal["completion", "grader_score", "metric_value"] = "completion"
    scoring: ScoringType = "higher_is_better"
    active: bool = True
    deleted: bool = False
    description: Text = ""

    @model_validator(mode="after")
    def _has_source(self) -> Self:
        needed = {
            "predefined": self.predefined,
            "judge": self.grader_key,
            "custom": self.expression,
        }
        field = {"predefined": "predefined", "judge": "grader_key", "custom": "expression"}
        if not self.deleted and needed[self.definition_type] is None:
            raise ValueError(
                f"{field[self.definition_type]} is required when "
                f"definition_type is {self.definition_type!r}"
            )
        return self


TableCell = str | int | float | bool | None


class Table(BaseModel):
    """A small table of rows logged at a training step (samples, generations)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: list[Name] = Field(min_length=1, max_length=64)
    rows: list[list[TableCell]] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _rectangular(self) -> Self:
        width = len(self.columns)
        for index, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"row {index} has {len(row)} cells, the table has {width} columns")
        return self


class TrainingStep(Event):
    """Metrics (numbers and tables) of one step of a training run."""

    kind: Literal["training_step"] = "training_step"
    run_id: Identifier
    step: int = Field(ge=0)
    metrics: dict[Name, FiniteFloat] = Field(default_factory=dict, max_length=1024)
    tables: dict[Name, Table] = Field(default_factory=dict, max_length=16)
    scenario_ids: list[Annotated[str, Field(max_length=MAX_ID_CHARS)]] = Field(
        default_factory=list,
        max_length=100_000,
        description="Scenarios seen at this step; drives data/cum/num_unique_scenarios.",
    )
    split: Name = Field(
        "train",
        description="The split this log belongs to (train, val, test or another); several"
        " splits may log the same step, each keeping its own history row.",
    )
    builder_metrics: dict[Name, FiniteFloat] = Field(
        default_factory=dict,
        max_length=1024,
        description="Step values a metrics builder summed (timings, data counts, costs):"
        " every costs/, time/ and data/ one gets its cumulative key, as ART's builder does.",
    )
    log_id: UUID | None = Field(
        None,
        description="Spend that carries this id belongs to this log, whenever it arrives.",
    )


class TrainingRun(Event):
    """A training run's record: name, recipe, config (for config diff) and status."""

    kind: Literal["training_run"] = "training_run"
    run_id: Identifier
    name: Name
    recipe: Name | None = None
    config: dict[str, JsonValue] = Field(default_factory=dict)
    status: Literal["running", "finished", "failed", "deleted"] = "running"
    tags: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=32)


class TokenUsage(BaseModel):
    """Provider usage, normalised across providers: input counts cache reads and writes,
    output counts reasoning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: TokenCount = 0
    output_tokens: TokenCount = 0
    cached_input_tokens: TokenCount = 0
    cache_creation_input_tokens: TokenCount = 0
    cache_creation_1h_input_tokens: TokenCount = Field(
        0, description="Of cache_creation_input_tokens, those written for one hour."
    )
    reasoning_tokens: TokenCount = Field(0, description="Of output_tokens, those spent reasoning.")


class ApiCost(Event):
    """Spend on a model API (rollouts, judges) attributed to a run, split and source."""

    kind: Literal["api_cost"] = "api_cost"
    run_id: Identifier | None = None
    completion_id: Identifier | None = None
    step: int | None = Field(None, ge=0)
    split: Name = "train"
    log_id: UUID | None = Field(
        None, description="The training log this spend belongs to (its TrainingStep's log_id)."
    )
    source: Name = Field(description="What spent it, e.g. 'judge' or 'rollout'.")
    provider: Name
    model: Name
    usage: TokenUsage
    cost_usd: NonNegativeFloat | None = Field(
        None,
        description="The cost reported for this spend by the provider; kept beside the"
        " price the pipeline computes, and charged only when nothing prices it. With"
        " `price_version`, the cost the producer priced at its own override, which is charged.",
    )
    price_version: Name | None = None


class GpuCost(Event):
    """GPU time used by a run, priced per GPU-hour."""

    kind: Literal["gpu_cost"] = "gpu_cost"
    run_id: Identifier
    step: int | None = Field(None, ge=0)
    split: Name = "train"
    log_id: UUID | None = Field(
        None, description="The training log this spend belongs to (its TrainingStep's log_id)."
    )
    gpu_type: Name
    gpu_count: int = Field(1, ge=1, le=100_000)
    seconds: NonNegativeFloat
    price_per_hour_usd: NonNegativeFloat


class ModelPrice(Event):
    """A price version in the shared pricing registry (a compacted topic).

    `time` is when the version was published: stream workers price a message
    with the versions published before the message was appended, so a replay
    prices it the same way, and re-pricing (meterstream costs reprice) knows
    which messages were charged at the older version. Prices apply to every
    project; `project` records who published the version.
    """

    kind: Literal["model_price"] = "model_price"
    provider: Name
    model: Name
    effective_from: date
    prompt_per_million: NonNegativeFloat
    completion_per_million: NonNegativeFloat
    cached_prompt_per_million: NonNegativeFloat | None = None
    cache_write_per_million: NonNegativeFloat | None = None
    deleted: bool = False


class HistogramValue(BaseModel):
    """Explicit-bucket histogram: `counts` has one more entry than `bounds`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bounds: list[FiniteFloat] = Field(max_length=256)
    counts: list[Annotated[int, Field(ge=0)]]
    sum: FiniteFloat = 0.0
    count: int = Field(0, ge=0)
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if len(self.counts) != len(self.bounds) + 1:
            raise ValueError(
                f"counts needs len(bounds) + 1 = {len(self.bounds) + 1} entries, "
                f"got {len(self.counts)}"
            )
        if any(b >= a for b, a in zip(self.bounds, self.bounds[1:], strict=False)):
            raise ValueError("bounds must be strictly increasing")
        if self.count != sum(self.counts):
            raise ValueError(f"count {self.count} differs from sum(counts) {sum(self.counts)}")
        return self


class InstrumentPoint(Event):
    """One data point of an OpenTelemetry-style instrument (counter, gauge, histogram)."""

    kind: Literal["instrument_point"] = "instrument_point"
    name: Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[A-Za-z][\w./\-]*$")]
    instrument: Literal["counter", "gauge", "histogram"]
    unit: Annotated[str, Field(max_length=63)] = ""
    description: Text = ""
    temporality: Literal["delta", "cumulative"] = "delta"
    value: FiniteFloat | None = None
    histogram: HistogramValue | None = None
    attributes: Labels = Field(default_factory=dict)

    @model_validator(mode="after")
    def _value_matches_instrument(self) -> Self:
        if self.instrument == "histogram":
            if self.histogram is None or self.value is not None:
                raise ValueError("a histogram point needs histogram and no value")
        elif self.value is None or self.histogram is not None:
            raise ValueError(f"a {self.instrument} point needs value and no histogram")
        if self.instrument == "counter" and self.value is not None and self.value < 0:
            raise ValueError("a counter value must not be negative")
        return self


class AlertConfig(Event):
    """An alert rule or a silence of the project, managed through the CLI or the HTTP API.

    The latest record per (project, item, item_id) is in force; `deleted` retires it.
    `spec` is the rule or silence as written in a rule file; the alert evaluator checks
    it (meterstream_alerting) and confines it to the record's project.
    """

    kind: Literal["alert_config"] = "alert_config"
    item: Literal["rule", "silence"]
    item_id: Identifier
    spec: dict[str, JsonValue] = Field(default_factory=dict)
    deleted: bool = False
    author: Text = ""

    @model_validator(mode="after")
    def _has_spec(self) -> Self:
        if not self.deleted and not self.spec:
            raise ValueError("spec is required unless the item is deleted")
        return self


AnyEvent = Annotated[
    Completion
    | GraderScore
    | MetricValue
    | Preference
    | MetricKey
    | MetricDefinition
    | TrainingStep
    | TrainingRun
    | ApiCost
    | GpuCost
    | ModelPrice
    | InstrumentPoint
    | AlertConfig,
    Field(discriminator="kind"),
]

EVENT_MODELS: dict[str, type[Event]] = {
    "completion": Completion,
    "grader_score": GraderScore,
    "metric_value": MetricValue,
    "preference": Preference,
    "metric_key": MetricKey,
    "metric_definition": MetricDefinition,
    "training_step": TrainingStep,
    "training_run": TrainingRun,
    "api_cost": ApiCost,
    "gpu_cost": GpuCost,
    "model_price": ModelPrice,
    "instrument_point": InstrumentPoint,
    "alert_config": AlertConfig,
}
"""Event kind → model. The kind is also each model's `kind` field."""

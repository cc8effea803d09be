"""Records the pipeline itself publishes: derived streams, dead letters and alerts."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Literal, Self

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from meterstream_contracts.events import ScoringType
from meterstream_contracts.fields import Identifier, Labels, Name, ProjectName, utc_now


class Derived(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    schema_version: Literal[1] = 1


class _WindowAggregates(Derived):
    """Mergeable aggregates of completions in one (project, model, event-time window).

    Latency and TTFT are quantile-sketch bins (index → count, see
    meterstream_derivations.sketch): merging is adding bins, in the stream or in
    ClickHouse (sumMap), so both give the same quantiles.
    """

    project: ProjectName
    model: Name
    window_start: datetime
    window_seconds: int = Field(gt=0)
    count: int = Field(ge=0)
    errors: dict[str, int] = Field(default_factory=dict)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    unpriced: int = Field(
        0, ge=0, description="Calls no price was known for (charged their reported cost, or 0)."
    )
    sketch_relative_accuracy: float = Field(0.01, gt=0, lt=1)
    latency_bins: dict[int, int] = Field(default_factory=dict)
    ttft_bins: dict[int, int] = Field(default_factory=dict)
    decode_seconds: float = Field(0.0, ge=0)
    decode_tokens: int = Field(
        0, ge=0, description="Output tokens of the calls whose decode time is in decode_seconds."
    )


class InferenceRollup(_WindowAggregates):
    """A partial: the completions of one slice of the input (first, per-partition phase).

    `partial_id` names the slice deterministically (`partition:offset` of the raw
    message), so a replayed partial replaces itself instead of counting twice.
    """

    kind: Literal["inference_rollup"] = "inference_rollup"
    cost_usd: float = Field(0.0, description="Negative in a re-pricing adjustment.")
    unpriced: int = Field(0, description="Negative in a re-pricing adjustment.")
    partial: bool = True
    partial_id: str = Field(min_length=1, max_length=256)
    source_partition: int | None = None


class InferenceWindow(_WindowAggregates):
    """A merged window (second phase): every partial of the window so far.

    `revision` counts the partials merged; a later revision supersedes an
    earlier one. `final` is set once the event-time watermark passed the
    window's end plus the allowed lateness; a late partial after that yields a
    corrected window (a higher revision), never a silent drop.
    """

    kind: Literal["inference_window"] = "inference_window"
    revision: int = Field(ge=1)
    final: bool = False
    emitted_at: datetime = Field(default_factory=utc_now)
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p99_ms: float | None = None
    decode_tokens_per_s: float | None = None


class UsageTotals(Derived):
    """Cumulative usage since the first event: per (project, model), or per project (model "")."""

    kind: Literal["usage_totals"] = "usage_totals"
    project: ProjectName
    model: str = Field("", max_length=255, description="Empty for the project's total.")
    revision: int = Field(ge=1, description="Grows with every change; the highest is current.")
    through: datetime = Field(description="End of the latest event-time window included.")
    emitted_at: datetime = Field(default_factory=utc_now)
    count: int = Field(ge=0)
    errors: int = Field(0, ge=0)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)


class CostEntry(Derived):
    """A line of the cost ledger: spend of one input slice at one price version.

    Re-pricing appends a reversal (the old version's cost, negated) and the
    new version's cost under an id naming the re-pricing, so the ledger sums
    to the current prices and keeps the history of what was charged.
    """

    kind: Literal["cost_entry"] = "cost_entry"
    entry_id: str = Field(min_length=1, max_length=256)
    project: ProjectName
    cost_kind: Literal["completion", "api_cost", "gpu_cost"]
    provider: str = Field("", max_length=255)
    model: str = Field("", max_length=255)
    run_id: str = Field("", max_length=128)
    split: str = Field("", max_length=255)
    source: str = Field("", max_length=255)
    window_start: datetime
    window_seconds: int = Field(gt=0)
    price_version: str = Field(
        "",
        max_length=512,
        description="The registry version or catalogue entry that priced the line;"
        " `reported` when the cost is the one reported; empty: no price known.",
    )
    cost_source: Literal["registry", "catalogue", "producer", "reported", "gpu", "unpriced"] = (
        Field(
            "unpriced",
            description="What `cost_usd` is: priced by our registry (an override), by the"
            " catalogue, by the producer's own override (it names the version), the cost"
            " reported with the events (nothing could price them), a GPU hour price, or 0"
            " for calls no price is known for.",
        )
    )
    count: int = Field(0, description="Events priced; reversals carry the negated count.")
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    gpu_seconds: float = 0.0
    cost_usd: float = 0.0
    reported_cost_usd: float = Field(
        0.0, description="The sum of the costs the provider reported for these events."
    )


class FeedbackRollup(Derived):
    """Partial aggregates of feedback per (project, key, source, window).

    `true_count` counts values equal to 1 (bool keys store true as 1) or passed
    grader results; `scoring` and `value_kind` come from the key registry when
    the key is registered.
    """

    kind: Literal["feedback_rollup"] = "feedback_rollup"
    project: ProjectName
    key: Name
    source: Literal["metric_value", "grader_score", "preference"]
    category: str = Field("", max_length=32)
    window_start: datetime
    window_seconds: int = Field(gt=0)
    partial_id: str = Field(min_length=1, max_length=256)
    count: int = Field(ge=0)
    total: float = 0.0
    min: float | None = None
    max: float | None = None
    true_count: int = Field(0, ge=0)
    scoring: ScoringType | None = None
    value_kind: Literal["scalar", "bool"] | None = None


class TrainingHistory(Derived):
    """One history row per log of a run, as ART writes them: raw and derived metrics.

    Several logs may share a step (train, then val); `seq` orders a run's logs as they
    were made. A row that receives spend after it went out is sent again, corrected,
    with a higher `revision`, together with the later rows whose totals it changes.
    """

    kind: Literal["training_history"] = "training_history"
    project: ProjectName
    run_id: Identifier
    step: int = Field(ge=0)
    split: str = "train"
    seq: int = Field(0, ge=0, description="The log's place among the run's logs.")
    revision: int = Field(1, ge=1)
    metrics: dict[str, float]


class DeadLetter(Derived):
    """An event (or a whole message) the pipeline could not accept, with why.

    Its place (`source_topic`, `partition`, `offset`, `line`) names it: a replay of the
    raw topics dead-letters the same event again under the same name, and the table
    keeps it once."""

    kind: Literal["dead_letter"] = "dead_letter"
    time: datetime = Field(default_factory=utc_now)
    source_topic: str
    partition: int
    offset: int
    line: int | None = Field(None, description="0-based line within the envelope.")
    reason: str
    payload: bytes = Field(description="The original bytes, unchanged (base64 in JSON).")
    payload_text: str | None = Field(
        None, description="The same bytes as text, when they are UTF-8: what was sent."
    )
    project: str = Field(
        "", max_length=256, description="The project the payload names, when it names one."
    )

    @model_validator(mode="after")
    def _readable(self) -> Self:
        if self.payload_text is None:
            with contextlib.suppress(UnicodeDecodeError):
                object.__setattr__(self, "payload_text", self.payload.decode())
        if not self.project:
            object.__setattr__(self, "project", _project_named(self.payload))
        return self

    @property
    def position(self) -> str:
        """`topic[partition]@offset:line`, what `meterstream dlq` calls it."""
        line = "" if self.line is None else f":{self.line}"
        return f"{self.source_topic}[{self.partition}]@{self.offset}{line}"


def _project_named(payload: bytes) -> str:
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return ""
    project = value.get("project") if isinstance(value, dict) else None
    return project if isinstance(project, str) and len(project) <= 256 else ""


class AlertEvent(Derived):
    """An alert changing state; `dedup_key` is stable across restarts."""

    kind: Literal["alert"] = "alert"
    time: datetime = Field(default_factory=utc_now)
    rule_id: Identifier
    dedup_key: str
    state: Literal["firing", "resolved"]
    severity: Literal["info", "warning", "critical"]
    project: ProjectName | None = None
    group: Labels = Field(default_factory=dict)
    value: float | None = None
    threshold: float | None = None
    summary: str = ""
    annotations: Labels = Field(default_factory=dict)


DERIVED_MODELS: tuple[type[Derived], ...] = (
    InferenceRollup,
    InferenceWindow,
    UsageTotals,
    CostEntry,
    FeedbackRollup,
    TrainingHistory,
    DeadLetter,
    AlertEvent,
)

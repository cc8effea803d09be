"""Records the pipeline itself publishes: derived streams, dead letters and alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from meterstream_contracts.fields import Identifier, Labels, Name, ProjectName, utc_now


class Derived(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    schema_version: Literal[1] = 1


class InferenceRollup(Derived):
    """Aggregates of completions per (project, model) and event-time window.

    A partial summarises the completions of one slice of the input (`partial_id`
    names it deterministically, e.g. topic:partition:first-last offsets), so a
    replayed partial replaces itself instead of counting twice. Latency and TTFT
    are quantile-sketch bins (index → count, see meterstream_derivations.sketch):
    merging partials is adding bins, in the stream or in ClickHouse (sumMap).
    """

    kind: Literal["inference_rollup"] = "inference_rollup"
    project: ProjectName
    model: Name
    window_start: datetime
    window_seconds: int = Field(gt=0)
    partial: bool = True
    partial_id: str = Field(min_length=1, max_length=256)
    source_partition: int | None = None
    count: int = Field(ge=0)
    errors: dict[str, int] = Field(default_factory=dict)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    sketch_relative_accuracy: float = Field(0.01, gt=0, lt=1)
    latency_bins: dict[int, int] = Field(default_factory=dict)
    ttft_bins: dict[int, int] = Field(default_factory=dict)
    decode_seconds: float = Field(0.0, ge=0)


class TrainingHistory(Derived):
    """One history row per (run, step): raw and derived metrics, as ART logs them."""

    kind: Literal["training_history"] = "training_history"
    project: ProjectName
    run_id: Identifier
    step: int = Field(ge=0)
    metrics: dict[str, float]


class DeadLetter(Derived):
    """An event (or a whole message) the pipeline could not accept, with why."""

    kind: Literal["dead_letter"] = "dead_letter"
    time: datetime = Field(default_factory=utc_now)
    source_topic: str
    partition: int
    offset: int
    line: int | None = Field(None, description="0-based line within the envelope.")
    reason: str
    payload: bytes = Field(description="The original bytes, unchanged.")


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
    TrainingHistory,
    DeadLetter,
    AlertEvent,
)

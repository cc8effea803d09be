"""Alert rules: what to watch on which derived stream, and when to fire.

A rule file is YAML: `rules:` (a list) and optional `silences:`. Every rule
reads one derived stream and is evaluated per group, the stream's message key
(per (project, model) for inference windows, per project for usage totals, per
(project, run) for training history, per (project, key) for feedback), so a
group's state lives in exactly one partition.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

Source = Literal["inference_windows", "usage_totals", "training_history", "feedback_rollups"]

SOURCE_TOPICS: dict[str, str] = {
    "inference_windows": "meterstream.derived.inference_windows",
    "usage_totals": "meterstream.derived.usage_totals",
    "training_history": "meterstream.derived.training_history",
    "feedback_rollups": "meterstream.derived.feedback_rollups",
}

DERIVED_METRICS: dict[str, frozenset[str]] = {
    "inference_windows": frozenset(
        {
            "count",
            "error_rate",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "unpriced",
            "latency_p50_ms",
            "latency_p95_ms",
            "latency_p99_ms",
            "ttft_p50_ms",
            "ttft_p99_ms",
            "decode_tokens_per_s",
        }
    ),
    "usage_totals": frozenset({"count", "errors", "input_tokens", "output_tokens", "cost_usd"}),
    "feedback_rollups": frozenset({"count", "mean", "true_rate"}),
}
"""Metrics a rule may name per stream; training history takes any logged key."""

Comparator = Literal[">", ">=", "<", "<="]


class Silence(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str | None = Field(None, description="Silence this rule (every rule when unset).")
    matchers: dict[str, str] = Field(default_factory=dict, description="Group labels to match.")
    until: datetime = Field(description="The silence expires then.")
    comment: str = ""

    def covers(self, rule_id: str, group: dict[str, str], at: datetime) -> bool:
        if at >= self.until or (self.rule is not None and self.rule != rule_id):
            return False
        return all(group.get(name) == value for name, value in self.matchers.items())


class AlertRule(BaseModel):
    """One rule. `condition` picks how the metric's value is judged:

    - `threshold`: value `comparator` `threshold`;
    - `rate_of_change`: (value - previous value) per second `comparator` `threshold`;
    - `drift`: |value - mean of the last `baseline_points` values| / that mean > `threshold`;
    - `absence`: no record for the group during `absent_for_s` seconds.
    The condition must hold for `for_s` seconds of event time before the alert fires.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:\-]*$")
    """A rule managed through the CLI/API is `<project>:<its id>`."""
    description: str = ""
    source: Source
    condition: Literal["threshold", "rate_of_change", "drift", "absence"] = "threshold"
    metric: str = Field("count", min_length=1, max_length=255)
    window_seconds: int | None = Field(None, gt=0, description="Inference window length read.")
    where: dict[str, str] = Field(default_factory=dict, description="Only groups matching these.")
    comparator: Comparator = ">"
    threshold: float = 0.0
    per_seconds: float = Field(3600.0, gt=0, description="Rate of change per this many seconds.")
    baseline_points: int = Field(20, ge=2, le=10_000)
    min_count: int = Field(1, ge=0, description="Windows with fewer calls are not judged.")
    absent_for_s: float = Field(60.0, gt=0)
    for_s: float = Field(0.0, ge=0)
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _metric_exists(cls, metric: str, info: ValidationInfo) -> str:
        source, condition = info.data.get("source"), info.data.get("condition")
        known = DERIVED_METRICS.get(str(source))
        if known is not None and condition != "absence" and metric not in known:
            listed = ", ".join(sorted(known))
            raise ValueError(f"{metric!r} is not on {source} (one of: {listed})")
        return metric

    @property
    def topic(self) -> str:
        return SOURCE_TOPICS[self.source]


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[AlertRule] = Field(default_factory=list)
    silences: list[Silence] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleFile:
        ids = [rule.id for rule in self.rules]
        duplicated = sorted({i for i in ids if ids.count(i) > 1})
        if duplicated:
            raise ValueError(f"rule ids must be unique, repeated: {', '.join(duplicated)}")
        return self


class InvalidRules(ValueError):
    """A rule file that cannot be used; the message names each bad field."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields
        """The dotted paths of the bad fields, first problem first."""


def describe(error: ValidationError, origin: str) -> InvalidRules:
    """One line per problem: where it is, the field, what is wrong."""
    problems, fields = [], []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "file"
        problems.append(f"{origin}: {where}: {item['msg']}")
        fields.append(where)
    return InvalidRules("\n".join(problems), tuple(fields))


def parse_rules(document: Any, *, origin: str = "rules") -> RuleFile:
    try:
        return RuleFile.model_validate(document or {})
    except ValidationError as error:
        raise describe(error, origin) from error


def shipped_rules() -> RuleFile:
    """The example rules that ship with the package."""
    text = resources.files(__package__).joinpath("examples.yaml").read_text()
    return parse_rules(yaml.safe_load(text), origin="examples.yaml")


def load_rules(path: str | Path) -> RuleFile:
    """Read and check a YAML rule file; InvalidRules lists every problem with its field."""
    text = Path(path).read_text()
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidRules(f"{path}: not YAML ({error})") from error
    return parse_rules(document, origin=str(path))

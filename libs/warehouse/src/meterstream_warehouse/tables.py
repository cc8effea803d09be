"""The table catalogue: which ClickHouse table stores each event kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    kind: str
    has_retention: bool
    """Whether the deployment's raw retention (TTL) applies to it."""


_SPECS: Final = (
    TableSpec("raw_completions", "completion", True),
    TableSpec("raw_grader_scores", "grader_score", True),
    TableSpec("raw_metric_values", "metric_value", True),
    TableSpec("raw_preferences", "preference", True),
    TableSpec("raw_training_steps", "training_step", True),
    TableSpec("raw_api_costs", "api_cost", True),
    TableSpec("raw_gpu_costs", "gpu_cost", True),
    TableSpec("raw_instrument_points", "instrument_point", True),
    TableSpec("metric_keys", "metric_key", False),
    TableSpec("metric_definitions", "metric_definition", False),
    TableSpec("training_runs", "training_run", False),
)

EVENT_TABLES: Final = {spec.kind: spec for spec in _SPECS}
"""Event kind → the table its events are stored in."""

MIGRATIONS_TABLE: Final = "schema_migrations"


def table_for_kind(kind: str) -> TableSpec:
    return EVENT_TABLES[kind]

"""The table catalogue: which ClickHouse table stores each kind of record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

TableRole = Literal["raw", "registry", "derived"]


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    kind: str
    role: TableRole

    @property
    def has_retention(self) -> bool:
        """Whether the deployment's raw retention (TTL) applies to it."""
        return self.role == "raw"


_SPECS: Final = (
    TableSpec("raw_completions", "completion", "raw"),
    TableSpec("raw_grader_scores", "grader_score", "raw"),
    TableSpec("raw_metric_values", "metric_value", "raw"),
    TableSpec("raw_preferences", "preference", "raw"),
    TableSpec("raw_training_steps", "training_step", "raw"),
    TableSpec("raw_api_costs", "api_cost", "raw"),
    TableSpec("raw_gpu_costs", "gpu_cost", "raw"),
    TableSpec("raw_instrument_points", "instrument_point", "raw"),
    TableSpec("metric_keys", "metric_key", "registry"),
    TableSpec("metric_definitions", "metric_definition", "registry"),
    TableSpec("training_runs", "training_run", "registry"),
    TableSpec("model_prices", "model_price", "registry"),
    TableSpec("alert_config", "alert_config", "registry"),
    TableSpec("inference_rollup_partials", "inference_rollup", "derived"),
    TableSpec("inference_windows", "inference_window", "derived"),
    TableSpec("usage_totals", "usage_totals", "derived"),
    TableSpec("cost_ledger", "cost_entry", "derived"),
    TableSpec("feedback_rollup_partials", "feedback_rollup", "derived"),
    TableSpec("training_history", "training_history", "derived"),
    TableSpec("dead_letters", "dead_letter", "derived"),
    TableSpec("alerts", "alert", "derived"),
)

TABLES: Final = {spec.kind: spec for spec in _SPECS}
"""Record kind → the table it is stored in."""

EVENT_TABLES: Final = {kind: spec for kind, spec in TABLES.items() if spec.role != "derived"}
"""Producer event kind → its raw or registry table."""

MIGRATIONS_TABLE: Final = "schema_migrations"


def table_for_kind(kind: str) -> TableSpec:
    return TABLES[kind]

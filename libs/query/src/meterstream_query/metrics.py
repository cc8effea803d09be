"""Which metrics exist: system measures of completions, grader scores, user and custom
metric values, and instruments — each named `category:name`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from meterstream_query.errors import InvalidQuery
from meterstream_warehouse import Warehouse

Category = Literal["system", "grader", "user", "custom", "instrument"]
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)

SYSTEM_METRICS: Final = {
    "calls": "completions (1 per call; use count, sum or rate)",
    "latency_ms": "end-to-end latency of a call",
    "ttft_ms": "time to the first streamed chunk",
    "input_tokens": "prompt tokens per call",
    "output_tokens": "completion tokens per call",
    "cached_tokens": "cached prompt tokens per call",
    "error": "1 for a failed call, 0 otherwise (mean = error rate)",
}
"""The measures migration 0007 unpacks from every completion."""

SYSTEM_VALUE_SQL: Final = {
    "calls": "1.",
    "latency_ms": "latency_ms",
    "ttft_ms": "ttft_ms",
    "input_tokens": "toFloat64(input_tokens)",
    "output_tokens": "toFloat64(output_tokens)",
    "cached_tokens": "toFloat64(cached_tokens)",
    "error": "toFloat64(status != 'ok')",
}
"""Each system metric's value in `raw_completions` (as migration 0007's views unpack it),
so raw reads of one system metric skip the view's unpacking of all seven."""

MAX_NAME_CHARS: Final = 256


@dataclass(frozen=True, slots=True)
class MetricRef:
    category: Category
    name: str

    @classmethod
    def parse(cls, text: str, *, field: str = "metric") -> MetricRef:
        """'system:latency_ms', 'grader:helpfulness', 'user:thumbs_up', 'instrument:...'."""
        category, sep, name = text.partition(":")
        if not sep or category not in CATEGORIES:
            raise InvalidQuery(
                field, f"{text!r} is not category:name with a category of {', '.join(CATEGORIES)}"
            )
        if not name or len(name) > MAX_NAME_CHARS:
            raise InvalidQuery(field, f"the name must have 1 to {MAX_NAME_CHARS} characters")
        if category == "system" and name not in SYSTEM_METRICS:
            raise InvalidQuery(
                field, f"system metric {name!r} unknown; known: {', '.join(SYSTEM_METRICS)}"
            )
        return cls(category, name)

    def __str__(self) -> str:
        return f"{self.category}:{self.name}"


def list_metrics(
    warehouse: Warehouse, *, project: str, category: Category | None = None
) -> list[dict[str, Any]]:
    """Metrics seen in a project (from the daily rollup), with the key registry's description
    and scoring where a key is registered; filtered to one category when given."""
    if category is not None and category not in CATEGORIES:
        raise InvalidQuery("category", f"must be one of {', '.join(CATEGORIES)}")
    rows = warehouse.query_rows(
        """
        SELECT r.category AS category, r.metric AS name, sum(r.count) AS points,
               min(r.bucket) AS first_day, max(r.bucket) AS last_day,
               any(k.description) AS description, any(k.scoring) AS scoring
        FROM metric_rollups_1d AS r
        LEFT JOIN (SELECT key, description, scoring FROM metric_keys FINAL
                   WHERE project = {project:String} AND NOT deleted) AS k
               ON k.key = r.metric AND r.category != 'system'
        WHERE r.project = {project:String}
          AND ({category:String} = '' OR r.category = {category:String})
        GROUP BY category, name
        ORDER BY category, name
        """,
        params={"project": project, "category": category or ""},
    )
    for row in rows:
        row["metric"] = f"{row['category']}:{row['name']}"
        if row["category"] == "system":
            row["description"] = SYSTEM_METRICS.get(row["name"], "")
    return rows

"""ClickHouse settings every backend applies to the same operation."""

from __future__ import annotations

from typing import Final

JSON_INSERT_SETTINGS: Final[dict[str, str | int]] = {
    "input_format_skip_unknown_fields": 1,
    "input_format_null_as_default": 1,
    "date_time_input_format": "best_effort",
    "input_format_json_read_objects_as_strings": 1,
    "input_format_json_read_arrays_as_strings": 1,
    # One thread parses an insert's JSON. Parallel parsing cuts the text into segments for
    # a pool of parsers: measured on 2 cores, 50k-row inserts of completions cost the server
    # 6.05-6.53 µs of CPU a row parsed serially against 6.85-7.25 in parallel, in the same
    # wall time (three alternated rounds).
    "input_format_parallel_parsing": 0,
    # Replacing tables collapse replays at merge time and under FINAL; doing it
    # on every insert halves insert speed for no gain.
    "optimize_on_insert": 0,
    # A retried batch (same dedup token) is skipped by the rollup views too.
    "deduplicate_blocks_in_dependent_materialized_views": 1,
    # Raw tables are partitioned by day: a backfill's batch spans many days, and the
    # default limit of 100 would refuse it on every retry.
    "max_partitions_per_insert_block": 10_000,
}


def insert_settings(dedup_token: str | None) -> dict[str, str | int]:
    settings = dict(JSON_INSERT_SETTINGS)
    if dedup_token is not None:
        settings["insert_deduplication_token"] = dedup_token
    return settings


def settings_clause(settings: dict[str, str | int]) -> str:
    """`SETTINGS a=1, b='x'` for embedding in an INSERT; values are quoted safely."""
    parts = []
    for name, value in settings.items():
        if not name.replace("_", "").isalnum():
            raise ValueError(f"bad setting name {name!r}")
        if isinstance(value, int):
            parts.append(f"{name}={value}")
        else:
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{name}='{escaped}'")
    return "SETTINGS " + ", ".join(parts)

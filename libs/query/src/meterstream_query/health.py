"""The pipeline's health as a project sees it: how fresh its raw rows are, the dead letters
in a range, the last alert. (Consumer lag, a cluster-wide figure, comes from Kafka.)"""

from __future__ import annotations

from typing import Any, Final

from meterstream_query.timerange import TimeRange
from meterstream_warehouse import Warehouse

FRESHNESS_WINDOW_S: Final = 300
"""Freshness is measured over the raw completions stored in the last five minutes."""


def pipeline_health(warehouse: Warehouse, *, project: str, time_range: TimeRange) -> dict[str, Any]:
    """Freshness p50/p99 (event time → row stored, ms) of the last five minutes, the dead
    letters in `time_range`, and the project's last alert transition."""
    fresh = warehouse.query_rows(
        """
        SELECT count() AS calls,
               quantile(0.5)(dateDiff('millisecond', time, ingested_at)) AS p50_ms,
               quantile(0.99)(dateDiff('millisecond', time, ingested_at)) AS p99_ms
        FROM raw_completions
        WHERE project = {project:String}
          AND ingested_at >= now64(3) - toIntervalSecond({window:UInt32})
          AND time >= now64(6) - toIntervalSecond({window:UInt32} * 2)
        """,
        params={"project": project, "window": FRESHNESS_WINDOW_S},
    )[0]
    dead = warehouse.query_rows(
        """
        SELECT count() AS n FROM dead_letters FINAL
        WHERE project = {project:String}
          AND time >= {start:DateTime64(6, 'UTC')} AND time < {end:DateTime64(6, 'UTC')}
        """,
        params={"project": project, **time_range.bounds},
    )[0]
    last_alert = warehouse.query_rows(
        """
        SELECT time, rule_id, state, severity, summary FROM alerts FINAL
        WHERE project = {project:String} ORDER BY time DESC LIMIT 1
        """,
        params={"project": project},
    )
    calls = int(fresh["calls"])
    return {
        "freshness": {
            "window_s": FRESHNESS_WINDOW_S,
            "calls": calls,
            "p50_ms": float(fresh["p50_ms"]) if calls else None,
            "p99_ms": float(fresh["p99_ms"]) if calls else None,
        },
        "dead_letters": int(dead["n"]),
        "last_alert": last_alert[0] if last_alert else None,
    }

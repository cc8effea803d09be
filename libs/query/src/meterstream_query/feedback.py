"""Feedback: values of a key, a model leaderboard that honours the key's scoring
direction, and preference win rates per model (preferences joined to completions)."""

from __future__ import annotations

from typing import Any, Literal

from meterstream_query.errors import InvalidQuery
from meterstream_query.timerange import TimeRange
from meterstream_warehouse import Warehouse

Scoring = Literal["higher_is_better", "lower_is_better"]

_VALUES_OF_KEY = """
    SELECT time, completion_id, value, 'grader' AS source, grader_name AS author, reason
    FROM raw_grader_scores FINAL
    WHERE project = {project:String} AND key = {key:String}
      AND time >= {start:DateTime64(6, 'UTC')} AND time < {end:DateTime64(6, 'UTC')}
    UNION ALL
    SELECT time, completion_id, value, category AS source, '' AS author, '' AS reason
    FROM raw_metric_values FINAL
    WHERE project = {project:String} AND key = {key:String}
      AND time >= {start:DateTime64(6, 'UTC')} AND time < {end:DateTime64(6, 'UTC')}
"""

_MODEL_OF = """
    SELECT completion_key AS k, model
    FROM raw_completions
    WHERE project = {project:String}
      AND time >= {start:DateTime64(6, 'UTC')} - toIntervalSecond({lookback:UInt32})
      AND time < {end:DateTime64(6, 'UTC')}
      AND completion_key IN (SELECT k FROM keys)
"""
"""Completions by their join key (`completion_key`, migration 0008). Joined with ANY
JOIN: a completion stored twice before its replay collapsed counts once."""

LOOKBACK_S = 6 * 3_600
"""By default, feedback is matched to completions at most this much older than the
range's start (completions are stored by time; an unbounded look-up would scan all of
them). Feedback whose completion is not found is counted as `unmatched`."""
MAX_LOOKBACK_S = 30 * 86_400


def _params(
    project: str, key: str, time_range: TimeRange, lookback_s: int = LOOKBACK_S
) -> dict[str, Any]:
    if not 0 <= lookback_s <= MAX_LOOKBACK_S:
        raise InvalidQuery("lookback", f"must be between 0 and {MAX_LOOKBACK_S} seconds")
    return {"project": project, "key": key, "lookback": lookback_s, **time_range.bounds}


def key_scoring(warehouse: Warehouse, *, project: str, key: str) -> Scoring:
    """The key's registered scoring direction (higher is better when unregistered)."""
    rows = warehouse.query_rows(
        """
        SELECT scoring FROM metric_keys FINAL
        WHERE project = {project:String} AND key = {key:String} AND NOT deleted
        """,
        params={"project": project, "key": key},
    )
    return (
        "lower_is_better"
        if rows and rows[0]["scoring"] == "lower_is_better"
        else "higher_is_better"
    )


def feedback_values(
    warehouse: Warehouse,
    *,
    project: str,
    key: str,
    time_range: TimeRange,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The key's values, newest first, a page at a time, with the total."""
    params = {**_params(project, key, time_range), "limit": limit, "offset": offset}
    total = warehouse.query_rows(f"SELECT count() AS n FROM ({_VALUES_OF_KEY})", params=params)
    rows = warehouse.query_rows(
        f"""
        SELECT * FROM ({_VALUES_OF_KEY})
        ORDER BY time DESC, completion_id
        LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
        """,
        params=params,
    )
    return {"total": int(total[0]["n"]), "values": rows}


def leaderboard(
    warehouse: Warehouse,
    *,
    project: str,
    key: str,
    time_range: TimeRange,
    lookback_s: int = LOOKBACK_S,
) -> dict[str, Any]:
    """Models ranked by their mean value of the key, best first by the key's scoring;
    `unmatched` counts values whose completion was not found within the look-back."""
    scoring = key_scoring(warehouse, project=project, key=key)
    direction = "DESC" if scoring == "higher_is_better" else "ASC"
    rows = warehouse.query_rows(
        f"""
        WITH vals AS (SELECT cityHash64(completion_id) AS k, value FROM ({_VALUES_OF_KEY})),
             keys AS (SELECT k FROM vals)
        SELECT m.model AS model, count() AS count, avg(v.value) AS mean,
               min(v.value) AS min, max(v.value) AS max
        FROM vals AS v
        ANY LEFT JOIN ({_MODEL_OF}) AS m ON m.k = v.k
        GROUP BY model
        ORDER BY mean {direction}, model
        """,
        params=_params(project, key, time_range, lookback_s),
    )
    unmatched = sum(int(row["count"]) for row in rows if row["model"] == "")
    models = [row for row in rows if row["model"] != ""]
    for rank, row in enumerate(models, start=1):
        row["rank"] = rank
    return {"key": key, "scoring": scoring, "models": models, "unmatched": unmatched}


def preference_win_rates(
    warehouse: Warehouse,
    *,
    project: str,
    key: str,
    time_range: TimeRange,
    lookback_s: int = LOOKBACK_S,
) -> dict[str, Any]:
    """Per model: comparisons against another model, wins, and the win rate; pairs of
    completions from the same model are counted apart and not in the rates, pairs with
    a completion not found within the look-back count as `unmatched`."""
    params = _params(project, key, time_range, lookback_s)
    rows = warehouse.query_rows(
        f"""
        WITH prefs AS (
                SELECT cityHash64(preferred_completion_id) AS winner,
                       cityHash64(other_completion_id) AS loser
                FROM raw_preferences FINAL
                WHERE project = {{project:String}} AND key = {{key:String}}
                  AND time >= {{start:DateTime64(6, 'UTC')}} AND time < {{end:DateTime64(6, 'UTC')}}
             ),
             keys AS (SELECT winner AS k FROM prefs UNION ALL SELECT loser FROM prefs),
             models AS ({_MODEL_OF})
        SELECT w.model AS winner_model, l.model AS loser_model, count() AS n
        FROM prefs AS p
        ANY LEFT JOIN models AS w ON w.k = p.winner
        ANY LEFT JOIN models AS l ON l.k = p.loser
        GROUP BY winner_model, loser_model
        """,
        params=params,
    )
    per_model: dict[str, dict[str, Any]] = {}
    same_model = unmatched = 0
    for row in rows:
        winner, loser, n = str(row["winner_model"]), str(row["loser_model"]), int(row["n"])
        if not winner or not loser:
            unmatched += n
            continue
        if winner == loser:
            same_model += n
            continue
        for model, won in ((winner, n), (loser, 0)):
            entry = per_model.setdefault(model, {"model": model, "comparisons": 0, "wins": 0})
            entry["comparisons"] += n
            entry["wins"] += won
    models = sorted(per_model.values(), key=lambda e: (-e["wins"] / e["comparisons"], e["model"]))
    for entry in models:
        entry["win_rate"] = entry["wins"] / entry["comparisons"]
    return {
        "key": key,
        "models": models,
        "same_model_pairs": same_model,
        "unmatched": unmatched,
    }


def preference_keys(
    warehouse: Warehouse, *, project: str, time_range: TimeRange
) -> list[dict[str, Any]]:
    """The preference keys with comparisons in `time_range`, busiest first."""
    return warehouse.query_rows(
        """
        SELECT key, count() AS comparisons FROM raw_preferences FINAL
        WHERE project = {project:String}
          AND time >= {start:DateTime64(6, 'UTC')} AND time < {end:DateTime64(6, 'UTC')}
        GROUP BY key ORDER BY comparisons DESC, key LIMIT 100
        """,
        params={"project": project, **time_range.bounds},
    )

"""Training runs: the list, a run's history with smoothing, runs compared with a config
diff, the tables logged at steps (paginated, searchable), and deleting a run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import orjson

from meterstream_query.errors import InvalidQuery, NotFound
from meterstream_query.smoothing import NO_SMOOTHING, Smoothing, downsample, smooth
from meterstream_warehouse import Warehouse
from meterstream_warehouse.queries import delete_training_run

MAX_KEYS: Final = 32
MAX_COMPARED_RUNS: Final = 16
MAX_PAGE: Final = 1_000


def _page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQuery("limit", f"must be in [1, {MAX_PAGE}]")
    if offset < 0:
        raise InvalidQuery("offset", "must be ≥ 0")


def list_runs(
    warehouse: Warehouse, *, project: str, search: str = "", limit: int = 50, offset: int = 0
) -> dict[str, Any]:
    """Runs newest first, matching `search` in name, id, recipe or a tag; with the total."""
    _page(limit, offset)
    params = {"project": project, "search": search, "limit": limit, "offset": offset}
    matching = """
        FROM training_runs FINAL
        WHERE project = {project:String} AND status != 'deleted'
          AND ({search:String} = ''
               OR positionCaseInsensitive(name, {search:String}) > 0
               OR positionCaseInsensitive(run_id, {search:String}) > 0
               OR positionCaseInsensitive(recipe, {search:String}) > 0
               OR has(tags, {search:String}))
    """
    total = warehouse.query_rows(f"SELECT count() AS n {matching}", params=params)
    rows = warehouse.query_rows(
        f"""
        SELECT r.run_id AS run_id, r.name AS name, r.recipe AS recipe, r.status AS status,
               r.tags AS tags, r.time AS updated_at, h.steps AS steps, h.last_step AS last_step
        FROM (SELECT run_id, name, recipe, status, tags, time {matching}
              ORDER BY time DESC, run_id LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}) AS r
        LEFT JOIN (SELECT run_id, uniqExact(step) AS steps, max(step) AS last_step
                   FROM training_history FINAL WHERE project = {{project:String}}
                   GROUP BY run_id) AS h ON h.run_id = r.run_id
        ORDER BY updated_at DESC, run_id
        """,
        params=params,
    )
    return {"total": int(total[0]["n"]), "runs": rows}


def run_keys(warehouse: Warehouse, *, project: str, run_id: str) -> list[str]:
    rows = warehouse.query_rows(
        """
        SELECT DISTINCT arrayJoin(mapKeys(metrics)) AS key FROM training_history FINAL
        WHERE project = {project:String} AND run_id = {run_id:String} ORDER BY key
        """,
        params={"project": project, "run_id": run_id},
    )
    return [str(row["key"]) for row in rows]


def _check_keys(keys: Sequence[str]) -> None:
    if not 1 <= len(keys) <= MAX_KEYS:
        raise InvalidQuery("keys", f"give 1 to {MAX_KEYS} history keys")


def run_history(
    warehouse: Warehouse,
    *,
    project: str,
    run_id: str,
    keys: Sequence[str],
    smoothing: Smoothing = NO_SMOOTHING,
    max_points: int = 1_000,
) -> dict[str, Any]:
    """Per key: steps, raw and smoothed values, min and max per bucket (see `smoothing`)."""
    _check_keys(keys)
    # Several logs may share a step (train, then val): per key, the last one that has it.
    columns = ", ".join(
        f"argMaxIf(metrics[{{k{i}:String}}], seq, mapContains(metrics, {{k{i}:String}})) AS c{i},"
        f" countIf(mapContains(metrics, {{k{i}:String}})) > 0 AS h{i}"
        for i in range(len(keys))
    )
    table = warehouse.query_arrow(
        f"""
        SELECT step, {columns}
        FROM training_history FINAL
        WHERE project = {{project:String}} AND run_id = {{run_id:String}}
        GROUP BY step
        ORDER BY step
        """,
        params={"project": project, "run_id": run_id, **{f"k{i}": k for i, k in enumerate(keys)}},
    )
    if table.num_rows == 0:
        raise NotFound(f"run {run_id!r} has no history in project {project!r}")
    steps = np.asarray(table.column("step").to_numpy(), dtype=np.int64)
    curves: dict[str, Any] = {}
    for i, key in enumerate(keys):
        values = np.array(table.column(f"c{i}").to_numpy(), dtype=np.float64)
        values[~np.asarray(table.column(f"h{i}").to_numpy(), dtype=bool)] = np.nan
        present = ~np.isnan(values)
        smoothed = smooth(steps[present], values[present], smoothing)
        curve = downsample(steps[present], values[present], smoothed, max_points=max_points)
        curves[key] = {
            "steps": curve.steps,
            "values": curve.values,
            "smoothed": curve.smoothed,
            "min": curve.mins,
            "max": curve.maxs,
            "points": int(present.sum()),
        }
    return {"run_id": run_id, "smoothing": smoothing.kind, "curves": curves}


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} → {'a.b': 1}; lists stay values."""
    flat: dict[str, Any] = {}
    for name, value in config.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten_config(value, prefix=f"{path}."))
        else:
            flat[path] = value
    return flat


def config_diff(configs: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every config argument of the runs, its value per run, and whether the runs differ
    on it (an argument one run lacks differs); differing arguments first."""
    flat = {run: flatten_config(config) for run, config in configs.items()}
    names = sorted({name for config in flat.values() for name in config})
    missing = object()
    rows = []
    for name in names:
        values = {run: config.get(name, missing) for run, config in flat.items()}
        distinct = {
            orjson.dumps(v).decode() if v is not missing else "<missing>" for v in values.values()
        }
        rows.append(
            {
                "argument": name,
                "values": {run: (None if v is missing else v) for run, v in values.items()},
                "differs": len(distinct) > 1,
            }
        )
    rows.sort(key=lambda row: (not row["differs"], row["argument"]))
    return rows


def compare_runs(
    warehouse: Warehouse,
    *,
    project: str,
    run_ids: Sequence[str],
    keys: Sequence[str],
    smoothing: Smoothing = NO_SMOOTHING,
    max_points: int = 1_000,
) -> dict[str, Any]:
    """Histories of several runs for the same keys (one step axis) and their config diff."""
    if not 2 <= len(run_ids) <= MAX_COMPARED_RUNS:
        raise InvalidQuery("run_ids", f"compare 2 to {MAX_COMPARED_RUNS} runs")
    listed = ", ".join(f"{{r{i}:String}}" for i in range(len(run_ids)))
    rows = warehouse.query_rows(
        f"""
        SELECT run_id, name, config FROM training_runs FINAL
        WHERE project = {{project:String}} AND run_id IN ({listed})
        """,
        params={"project": project, **{f"r{i}": run for i, run in enumerate(run_ids)}},
    )
    found = {str(row["run_id"]): row for row in rows}
    unknown = [run for run in run_ids if run not in found]
    if unknown:
        raise NotFound(f"no runs {', '.join(map(repr, unknown))} in project {project!r}")
    configs = {run: orjson.loads(found[run]["config"] or "{}") for run in run_ids}
    return {
        "runs": [
            {
                "run_id": run,
                "name": found[run]["name"],
                **run_history(
                    warehouse,
                    project=project,
                    run_id=run,
                    keys=keys,
                    smoothing=smoothing,
                    max_points=max_points,
                ),
            }
            for run in run_ids
        ],
        "config_diff": config_diff(configs),
    }


def run_table(
    warehouse: Warehouse,
    *,
    project: str,
    run_id: str,
    table: str,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Rows of a table logged at the run's steps (a `step` column first), filtered to rows
    with a cell containing `search` (case-insensitive), a page at a time."""
    _page(limit, offset)
    stored = warehouse.query_rows(
        """
        SELECT step, JSONExtractRaw(tables, {table:String}) AS logged
        FROM raw_training_steps FINAL
        WHERE project = {project:String} AND run_id = {run_id:String}
          AND JSONHas(tables, {table:String})
        ORDER BY step
        """,
        params={"project": project, "run_id": run_id, "table": table},
    )
    if not stored:
        raise NotFound(f"run {run_id!r} logged no table {table!r}")
    needle = search.casefold()
    columns: list[str] = ["step"]
    matched: list[list[Any]] = []
    for row in stored:
        logged = orjson.loads(row["logged"])
        columns = ["step", *logged["columns"]]
        for cells in logged["rows"]:
            if needle and not any(needle in str(cell).casefold() for cell in cells):
                continue
            matched.append([row["step"], *cells])
    return {
        "columns": columns,
        "total": len(matched),
        "rows": matched[offset : offset + limit],
    }


delete_run = delete_training_run
"""Remove the run's record, steps, costs, ledger lines and history (the sink's deletion)."""

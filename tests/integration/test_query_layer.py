"""The query library against a real ClickHouse engine: every figure recomputed in Python
from the rows written (percentiles within the sketch's 1%)."""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pytest

from meterstream_query import (
    InvalidQuery,
    MetricRef,
    NotFound,
    SeriesQuery,
    Smoothing,
    SqlLimits,
    TimeRange,
    compare_runs,
    cost_report,
    delete_run,
    feedback_values,
    leaderboard,
    list_metrics,
    list_runs,
    metric_series,
    preference_win_rates,
    run_analyst_sql,
    run_history,
    run_table,
)
from meterstream_warehouse import Warehouse, WarehouseError
from meterstream_warehouse.queries import training_history
from tests.integration.query_fixtures import START, KnownData, write_known_data, write_training_runs

pytestmark = pytest.mark.clickhouse

THREE_HOURS = TimeRange(START, START + timedelta(hours=3))


@pytest.fixture
def known(any_warehouse: Warehouse, project_name: str) -> KnownData:
    data = write_known_data(any_warehouse, project=project_name)
    write_known_data(any_warehouse, project="someone-else", seed=8)
    return data


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=START.tzinfo)


def _by_bucket(
    rows: list[dict[str, Any]], seconds: int, key: str
) -> dict[tuple[str, int], list[float]]:
    buckets: dict[tuple[str, int], list[float]] = defaultdict(list)
    for row in rows:
        if row[key] is None:
            continue
        stamp = int(_parse(row["time"]).timestamp())
        buckets[(row["model"], stamp - stamp % seconds)].append(float(row[key]))
    return buckets


@pytest.mark.parametrize(("interval", "source"), [(3600, "1h"), (600, "1m"), (30, "raw")])
def test_latency_p95_per_model_matches_exact_within_the_sketch_error(
    any_warehouse: Warehouse, known: KnownData, interval: int, source: str
) -> None:
    query = SeriesQuery(
        metric=MetricRef.parse("system:latency_ms"),
        aggregation="p95",
        time_range=THREE_HOURS,
        interval_s=interval,
        group_by=("model",),
    )
    result = metric_series(any_warehouse, project=known.project, query=query)
    assert result.source == source
    expected = _by_bucket(known.completions, interval, "latency_ms")
    seen = 0
    for series in result.series:
        for t, value in zip(series.times, series.values, strict=True):
            values = sorted(expected[(series.group["model"], t)])
            exact = values[math.floor(0.95 * (len(values) - 1))]
            assert value == pytest.approx(exact, rel=0.0101)
            seen += 1
    assert seen == len(expected)


def test_counts_rates_and_error_rate_are_exact_on_rollups_and_raw(
    any_warehouse: Warehouse, known: KnownData
) -> None:
    for interval in (3600, 1800):
        errors = metric_series(
            any_warehouse,
            project=known.project,
            query=SeriesQuery(
                metric=MetricRef.parse("system:error"),
                aggregation="mean",
                time_range=THREE_HOURS,
                interval_s=interval,
            ),
        )
        tokens = metric_series(
            any_warehouse,
            project=known.project,
            query=SeriesQuery(
                metric=MetricRef.parse("system:output_tokens"),
                aggregation="rate",
                time_range=THREE_HOURS,
                interval_s=interval,
                filters={"label:route": "chat"},
            ),
        )
        assert tokens.source == "raw"
        for t, value in zip(errors.series[0].times, errors.series[0].values, strict=True):
            inside = [
                c for c in known.completions if t <= _parse(c["time"]).timestamp() < t + interval
            ]
            assert value == pytest.approx(sum(c["status"] == "error" for c in inside) / len(inside))
        for t, value in zip(tokens.series[0].times, tokens.series[0].values, strict=True):
            chat = [
                c["output_tokens"]
                for c in known.completions
                if t <= _parse(c["time"]).timestamp() < t + interval
                and c["labels"]["route"] == "chat"
            ]
            assert value == pytest.approx(sum(chat) / interval)


def test_label_groups_and_unknown_metrics(any_warehouse: Warehouse, known: KnownData) -> None:
    result = metric_series(
        any_warehouse,
        project=known.project,
        query=SeriesQuery(
            metric=MetricRef.parse("system:calls"),
            aggregation="count",
            time_range=THREE_HOURS,
            interval_s=3600,
            group_by=("label:route",),
        ),
    )
    totals = {s.group["label:route"]: sum(v or 0 for v in s.values) for s in result.series}
    assert totals == {
        "chat": sum(c["labels"]["route"] == "chat" for c in known.completions),
        "search": sum(c["labels"]["route"] == "search" for c in known.completions),
    }
    with pytest.raises(InvalidQuery, match="metric"):
        MetricRef.parse("system:latency")
    listed = list_metrics(any_warehouse, project=known.project, category="grader")
    assert [(m["metric"], m["scoring"]) for m in listed] == [
        ("grader:hallucination", "lower_is_better")
    ]


def test_cost_report_per_hour_by_model_with_price_versions(
    any_warehouse: Warehouse, known: KnownData
) -> None:
    rows = cost_report(any_warehouse, project=known.project, time_range=THREE_HOURS, by=("model",))
    expected: dict[tuple[str, str], float] = defaultdict(float)
    for line in known.ledger:
        hour = line["window_start"][:13] + ":00:00"
        expected[(hour, line["model"])] += line["cost_usd"]
    got = {(str(r["period"]), r["model"]): r["cost_usd"] for r in rows}
    assert got.keys() == expected.keys()
    for key, cost in expected.items():
        assert got[key] == pytest.approx(cost, abs=1e-9)
    assert {tuple(r["versions"]) for r in rows} == {
        ("openai/gpt-4o@2026-01-01",),
        ("openai/claude-sonnet@2026-01-01",),
    }


def test_leaderboard_honours_lower_is_better_and_win_rates_join_completions(
    any_warehouse: Warehouse, known: KnownData
) -> None:
    board = leaderboard(
        any_warehouse, project=known.project, key="hallucination", time_range=THREE_HOURS
    )
    means: dict[str, list[float]] = defaultdict(list)
    for score in known.scores:
        means[known.model_of(score["completion_id"])].append(score["value"])
    expected = sorted(means, key=lambda m: sum(means[m]) / len(means[m]))
    assert board["scoring"] == "lower_is_better"
    assert [row["model"] for row in board["models"]] == expected
    for row in board["models"]:
        assert row["mean"] == pytest.approx(np.mean(means[row["model"]]))
        assert row["count"] == len(means[row["model"]])
    page = feedback_values(
        any_warehouse,
        project=known.project,
        key="hallucination",
        time_range=THREE_HOURS,
        limit=7,
        offset=3,
    )
    assert page["total"] == len(known.scores)
    assert [v["completion_id"] for v in page["values"]] == [
        s["completion_id"]
        for s in sorted(known.scores, key=lambda s: s["time"], reverse=True)[3:10]
    ]
    rates = preference_win_rates(
        any_warehouse, project=known.project, key="pairwise", time_range=THREE_HOURS
    )
    wins: dict[str, int] = defaultdict(int)
    games: dict[str, int] = defaultdict(int)
    for pref in known.preferences:
        winner = known.model_of(pref["preferred_completion_id"])
        loser = known.model_of(pref["other_completion_id"])
        wins[winner] += 1
        games[winner] += 1
        games[loser] += 1
    assert {m["model"]: m["win_rate"] for m in rates["models"]} == {
        model: pytest.approx(wins[model] / games[model]) for model in games
    }
    assert board["unmatched"] == rates["unmatched"] == 0


def test_feedback_on_completions_beyond_the_look_back_is_counted_unmatched(
    any_warehouse: Warehouse, known: KnownData
) -> None:
    late = START + timedelta(hours=2, minutes=30)
    stamp = late.strftime("%Y-%m-%d %H:%M:%S.%f")
    old = known.completions[:2]
    scores = [
        {**known.scores[0], "event_id": str(uuid.uuid4()), "time": stamp,
         "completion_id": completion_id, "value": 0.25}
        for completion_id in [*(c["completion_id"] for c in old), "never-logged"]
    ]  # fmt: skip
    any_warehouse.insert_json_rows("raw_grader_scores", b"\n".join(map(orjson.dumps, scores)))
    last_half_hour = TimeRange(late, START + timedelta(hours=3))

    def board(lookback_s: int) -> dict[str, Any]:
        return leaderboard(
            any_warehouse,
            project=known.project,
            key="hallucination",
            time_range=last_half_hour,
            lookback_s=lookback_s,
        )

    in_range = [s for s in known.scores if s["time"] >= stamp]
    wide, narrow = board(3 * 3600), board(60)
    assert sum(row["count"] for row in wide["models"]) == len(in_range) + 2
    assert wide["unmatched"] == 1
    assert sum(row["count"] for row in narrow["models"]) == len(in_range)
    assert narrow["unmatched"] == 3
    with pytest.raises(InvalidQuery, match="lookback"):
        board(-1)


def test_training_history_compare_tables_and_delete(
    any_warehouse: Warehouse, project_name: str
) -> None:
    runs = write_training_runs(any_warehouse, project=project_name, steps=300)
    listed = list_runs(any_warehouse, project=project_name, search="3e-05")
    assert [r["run_id"] for r in listed["runs"]] == ["run-1"]
    assert listed["runs"][0]["steps"] == 300
    history = run_history(
        any_warehouse,
        project=project_name,
        run_id="run-0",
        keys=["train/reward"],
        smoothing=Smoothing("ema", 0.9),
        max_points=50,
    )
    curve = history["curves"]["train/reward"]
    raw = [(step % 13) / 13 for step in range(300)]
    average, expected_smoothed = 0.0, []
    for n, value in enumerate(raw, start=1):
        average = 0.9 * average + 0.1 * value
        expected_smoothed.append(average / (1 - 0.9**n))
    assert len(curve["steps"]) == 50
    assert curve["smoothed"] == pytest.approx([expected_smoothed[s] for s in curve["steps"]])
    assert curve["max"][0] == pytest.approx(max(raw[: curve["steps"][0] + 1]))
    compared = compare_runs(
        any_warehouse, project=project_name, run_ids=runs, keys=["train/reward"]
    )
    differing = [row["argument"] for row in compared["config_diff"] if row["differs"]]
    assert differing == ["lr"]
    table = run_table(
        any_warehouse,
        project=project_name,
        run_id="run-0",
        table="samples",
        search="question 2",
        limit=5,
    )
    matching = [
        f"question {s}-{k}"
        for s in range(0, 300, 10)
        for k in range(4)
        if "question 2" in f"question {s}-{k}"
    ]
    assert table["total"] == len(matching)
    assert [row[1] for row in table["rows"]] == matching[:5]
    delete_run(any_warehouse, project=project_name, run_id="run-0")
    with pytest.raises(NotFound):
        run_history(any_warehouse, project=project_name, run_id="run-0", keys=["train/reward"])
    assert [r["run_id"] for r in list_runs(any_warehouse, project=project_name)["runs"]] == [
        "run-1"
    ]


def test_a_step_logged_by_train_and_val_reads_as_one_step_with_both(
    any_warehouse: Warehouse, project_name: str
) -> None:
    """ART's loop logs train then val at each step: two rows per step (seq orders them).
    A curve takes each key from the step's last log that has it; a corrected row (a higher
    revision) replaces its first version."""

    def row(step: int, seq: int, split: str, metrics: dict[str, float]) -> dict[str, Any]:
        return {
            "kind": "training_history",
            "schema_version": 1,
            "project": project_name,
            "run_id": "art",
            "step": step,
            "split": split,
            "seq": seq,
            "revision": 1,
            "metrics": metrics,
        }

    rows = []
    for step in range(4):
        rows.append(row(step, 2 * step, "train", {"train/reward": step, "costs/all": 1.0}))
        rows.append(row(step, 2 * step + 1, "val", {"val/reward": -step, "costs/all": 0.25}))
    any_warehouse.insert_json_rows("training_history", b"\n".join(orjson.dumps(r) for r in rows))
    corrected = {**rows[0], "revision": 2, "metrics": {"train/reward": 0.0, "costs/all": 2.0}}
    any_warehouse.insert_json_rows("training_history", orjson.dumps(corrected))
    history = run_history(
        any_warehouse,
        project=project_name,
        run_id="art",
        keys=["train/reward", "val/reward", "costs/all"],
    )
    curves = history["curves"]
    assert curves["train/reward"]["steps"] == [0, 1, 2, 3]
    assert curves["train/reward"]["values"] == [0.0, 1.0, 2.0, 3.0]
    assert curves["val/reward"]["values"] == [0.0, -1.0, -2.0, -3.0]
    assert curves["costs/all"]["values"] == [0.25] * 4  # the val log came last at each step
    table = training_history(any_warehouse, project=project_name, run_id="art", keys=("costs/all",))
    assert [r["step"] for r in table] == [0, 1, 2, 3]
    assert len(any_warehouse.query_rows(
        "SELECT 1 FROM training_history FINAL WHERE project = {p:String}",
        params={"p": project_name},
    )) == 8  # fmt: skip


def test_analyst_sql_sees_only_its_project_and_is_read_only(
    any_warehouse: Warehouse, known: KnownData
) -> None:
    result = run_analyst_sql(
        any_warehouse,
        project=known.project,
        sql=(
            "SELECT model, count() AS n FROM raw_completions"
            " WHERE latency_ms > {min_ms:Float64} GROUP BY model ORDER BY model"
        ),
        params={"min_ms": 0.0},
    )
    assert {r["model"]: r["n"] for r in result["rows"]} == {"claude-sonnet": 3000, "gpt-4o": 3000}
    sneaky = run_analyst_sql(
        any_warehouse,
        project=known.project,
        sql="SELECT count() AS n FROM raw_completions WHERE project = 'someone-else'",
    )
    assert sneaky["rows"] == [{"n": 0}]
    with pytest.raises(InvalidQuery, match="sql"):
        run_analyst_sql(any_warehouse, project=known.project, sql="DROP TABLE raw_completions")
    with pytest.raises(InvalidQuery, match="params"):
        run_analyst_sql(any_warehouse, project=known.project, sql="SELECT {x:UInt8} AS x")
    with pytest.raises(WarehouseError, match=r"(?i)limit"):
        run_analyst_sql(
            any_warehouse,
            project=known.project,
            sql="SELECT completion_id FROM raw_completions",
            limits=SqlLimits(max_result_rows=100),
        )

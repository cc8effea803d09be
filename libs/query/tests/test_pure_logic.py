"""Pure parts of the query layer: smoothing, downsampling, read plans, config diff, SQL scoping."""

from __future__ import annotations

import numpy as np
import pytest

from meterstream_query import InvalidQuery, MetricRef, config_diff, scope_sql
from meterstream_query.smoothing import Smoothing, downsample, ema, gaussian, sma, smooth
from meterstream_query.timerange import RAW_MAX_SPAN_S, plan_read


def test_ema_is_debiased_and_skips_gaps() -> None:
    values = np.array([1.0, np.nan, 3.0])
    out = ema(values, 0.5)
    assert out[0] == pytest.approx(1.0)
    assert np.isnan(out[1])
    assert out[2] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / (1 - 0.25))


def test_sma_and_gaussian_keep_a_constant_constant_at_edges_and_gaps() -> None:
    steps = np.array([0, 1, 2, 5, 6, 40], dtype=np.int64)
    values = np.full(6, 2.5)
    assert sma(values, 3) == pytest.approx(values)
    assert gaussian(steps, values, 2.0) == pytest.approx(values)
    assert sma(np.array([1.0, 2.0, 3.0, 4.0]), 2) == pytest.approx([1.0, 1.5, 2.5, 3.5])


def test_sparse_steps_take_the_exact_gaussian_path() -> None:
    steps = np.array([0, 1000, 1001, 100_000], dtype=np.int64)
    values = np.array([0.0, 1.0, 3.0, 9.0])
    out = gaussian(steps, values, 1.0)
    weight = np.exp(-0.5)
    assert out[1] == pytest.approx((1.0 + 3.0 * weight) / (1 + weight))
    assert out[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    "smoothing", [Smoothing("ema", 0.95), Smoothing("sma", 25), Smoothing("gaussian", 30)]
)
def test_smoothed_values_do_not_depend_on_the_number_of_points_shown(smoothing: Smoothing) -> None:
    rng = np.random.default_rng(1)
    steps = np.arange(100_000, dtype=np.int64)
    values = np.cumsum(rng.normal(size=steps.size))
    full = smooth(steps, values, smoothing)
    for points in (1_000, 100_000):
        shown = downsample(steps, values, full, max_points=points)
        assert len(shown.steps) <= points
        assert shown.smoothed == pytest.approx(full[shown.steps].tolist())


def test_downsampling_keeps_min_and_max_of_each_bucket() -> None:
    steps = np.arange(10, dtype=np.int64)
    values = np.array([5.0, -1, 2, 9, 0, 3, 3, 3, 7, 1])
    shown = downsample(steps, values, values, max_points=2)
    assert shown.mins == [-1.0, 1.0]
    assert shown.maxs == [9.0, 7.0]
    assert shown.steps == [4, 9]


def test_read_plan_picks_the_coarsest_exact_table() -> None:
    assert plan_read(365 * 86_400, interval_s=None).resolution == "1d"
    assert plan_read(30 * 86_400, interval_s=None) == plan_read(30 * 86_400, interval_s=10_800)
    assert plan_read(30 * 86_400, interval_s=None).resolution == "1h"
    assert plan_read(86_400, interval_s=None).resolution == "1m"
    assert plan_read(86_400, interval_s=3_600).resolution == "1h"
    assert plan_read(3_600, interval_s=None).resolution == "raw"
    assert plan_read(3_600, interval_s=None, needs_raw=False).interval_s == 30
    with pytest.raises(InvalidQuery, match="interval"):
        plan_read(RAW_MAX_SPAN_S + 1, interval_s=90)
    with pytest.raises(InvalidQuery, match="group_by"):
        plan_read(RAW_MAX_SPAN_S + 60, interval_s=3_600, needs_raw=True)
    with pytest.raises(InvalidQuery, match="interval"):
        plan_read(86_400 * 30, interval_s=60)


def test_metric_names_and_smoothing_arguments_are_checked() -> None:
    assert str(MetricRef.parse("grader:helpfulness")) == "grader:helpfulness"
    for text in ("latency_ms", "bogus:x", "system:nope", "user:"):
        with pytest.raises(InvalidQuery, match="metric"):
            MetricRef.parse(text)
    with pytest.raises(InvalidQuery, match="smoothing"):
        Smoothing("ema", 1.0)
    with pytest.raises(InvalidQuery, match="smoothing"):
        Smoothing("sma", 2.5)


def test_config_diff_marks_differing_and_missing_arguments_first() -> None:
    diff = config_diff(
        {
            "a": {"lr": 1e-5, "model": {"base": "qwen", "rank": 8}, "seed": 1},
            "b": {"lr": 3e-5, "model": {"base": "qwen"}, "seed": 1},
        }
    )
    assert [(row["argument"], row["differs"]) for row in diff] == [
        ("lr", True),
        ("model.rank", True),
        ("model.base", False),
        ("seed", False),
    ]
    assert diff[1]["values"] == {"a": 8, "b": None}


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM system.tables",
        "SELECT * FROM numbers(10)",
        "SELECT file('/etc/passwd')",
        "SELECT * FROM raw_completions SETTINGS readonly = 0",
        "SELECT 1; SELECT 2",
        "INSERT INTO raw_completions SELECT * FROM raw_completions",
        "SELECT * FROM dead_letter_replays",
        "SELECT * FROM otherdb.raw_completions",
        "SELECT {ms_scope_project:String}",
        "SELECT * FROM url('http://127.0.0.1/')",
    ],
)
def test_analyst_sql_refuses_what_could_leave_the_project(sql: str) -> None:
    with pytest.raises(InvalidQuery):
        scope_sql(sql)


def test_every_table_reference_is_scoped_even_inside_ctes_and_joins() -> None:
    scoped, params = scope_sql(
        "WITH x AS (SELECT * FROM raw_completions) SELECT * FROM x JOIN cost_ledger AS c FINAL"
        " ON x.model = c.model WHERE x.time > {t:DateTime}"
    )
    assert params == {"t"}
    assert scoped.count("WHERE project = {ms_scope_project: String}") == 2
    assert "FROM raw_completions FINAL WHERE" in scoped

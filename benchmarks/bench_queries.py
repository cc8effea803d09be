"""Query benchmark: the dashboard's queries over 10M raw completions plus rollups (embedded).

Loads 30 days of synthetic completions (long-tailed latency, four models,
errors, routes), grader scores, cost-ledger lines and two 10k-step training
runs into a fresh chDB store through the same tables and materialised views
the sink feeds, then times each query the dashboard issues (p50/p95 over
repeated runs) and the 30-day ranges. Targets: p95 ≤ 50 ms for the dashboard's
queries, ≤ 100 ms for 30-day ranges.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.broker import benchmark_store
from meterstream_query import (
    MetricRef,
    SeriesQuery,
    Smoothing,
    TimeRange,
    compare_runs,
    cost_report,
    leaderboard,
    list_metrics,
    list_runs,
    metric_series,
    run_history,
)
from meterstream_warehouse import Warehouse

PROJECT = "bench"
DAYS = 30


def load(warehouse: Warehouse, *, events: int, now: datetime) -> float:
    """Insert the synthetic data in chunks (the views fold each chunk); returns seconds."""
    started = time.perf_counter()
    span_us = DAYS * 86_400 * 1_000_000
    chunk = 250_000  # each INSERT (and the views it feeds) well within the client timeout
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    for first in range(0, events, chunk):
        warehouse.execute(
            f"""
            INSERT INTO raw_completions (schema_version, event_id, time, project, completion_id,
                model, provider, started_at, ttft_ms, latency_ms, input_tokens, output_tokens,
                cached_tokens, status, error_type, streamed, labels)
            SELECT 1, generateUUIDv4(number),
                   toDateTime64('{stamp}', 6, 'UTC') - toIntervalMicrosecond(intDiv(number * {span_us}, {events})),
                   '{PROJECT}', concat('c', toString(number)),
                   ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-70b'][number % 4 + 1], 'openai',
                   toDateTime64('{stamp}', 6, 'UTC') - toIntervalMicrosecond(intDiv(number * {span_us}, {events})),
                   if(number % 5 = 0, NULL, 20 + (cityHash64(number, 1) % 300)),
                   exp(5.5 + (cityHash64(number) % 1000) / 700.0),
                   100 + number % 900, 1 + cityHash64(number, 2) % 600, 0,
                   if(number % 97 = 0, 'error', 'ok'), '', true,
                   map('route', ['chat', 'search', 'agent'][number % 3 + 1])
            FROM numbers({first}, {min(chunk, events - first)})
            """
        )
    warehouse.execute(
        f"""
        INSERT INTO raw_grader_scores (schema_version, event_id, time, project, completion_id,
            grader_name, grader_type, key, value, passed, reason)
        SELECT 1, generateUUIDv4(number),
               toDateTime64('{stamp}', 6, 'UTC') - toIntervalMicrosecond(intDiv(number * 10 * {span_us}, {events})),
               '{PROJECT}', concat('c', toString(number * 10)), 'judge', 'judge', 'helpfulness',
               (cityHash64(number) % 100) / 100.0, NULL, ''
        FROM numbers({events // 10})
        """
    )
    warehouse.execute(
        f"""
        INSERT INTO cost_ledger (entry_id, project, cost_kind, provider, model, run_id, split,
            source, window_start, window_seconds, price_version, count, input_tokens,
            output_tokens, cached_tokens, cache_write_tokens, gpu_seconds, cost_usd)
        SELECT concat('e', toString(number)), '{PROJECT}', 'completion', 'openai',
               ['gpt-4o', 'gpt-4o-mini', 'claude-sonnet', 'llama-70b'][number % 4 + 1], '', '', '',
               toStartOfMinute(toDateTime('{stamp}', 'UTC') - toIntervalMinute(intDiv(number, 4))),
               60, 'openai/gpt-4o@2026-01-01', 200, 100000, 50000, 0, 0, 0, 0.001 * (number % 13)
        FROM numbers({DAYS * 1440 * 4})
        """
    )
    for run in ("run-a", "run-b"):
        warehouse.execute(
            f"""
            INSERT INTO training_runs (schema_version, event_id, time, project, run_id, name,
                recipe, config, status, tags)
            VALUES (1, generateUUIDv4(), now64(6), '{PROJECT}', '{run}', '{run}', 'grpo',
                    '{{"lr": {1e-5 if run == "run-a" else 3e-5}}}', 'running', [])
            """
        )
        warehouse.execute(
            f"""
            INSERT INTO training_history (kind, schema_version, project, run_id, step, metrics)
            SELECT 'training_history', 1, '{PROJECT}', '{run}', number,
                   map('train/reward', sin(number / 300) + (cityHash64(number) % 100) / 200.0,
                       'costs/all', number * 0.01)
            FROM numbers(10000)
            """
        )
    return time.perf_counter() - started


def timed(action: Callable[[], Any], repeats: int) -> tuple[float, float]:
    action()  # warm: first run compiles and reads marks
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, round(0.95 * len(samples)) - 1)]


def series(
    warehouse: Warehouse, metric: str, agg: str, last: str, now: datetime, **extra: Any
) -> Callable[[], Any]:
    query = SeriesQuery(
        metric=MetricRef.parse(metric),
        aggregation=agg,  # type: ignore[arg-type]
        time_range=TimeRange.last(last, now=now),
        **extra,
    )
    return lambda: metric_series(warehouse, project=PROJECT, query=query)


def queries(warehouse: Warehouse, now: datetime) -> list[tuple[str, str, Callable[[], Any]]]:
    """(group, name, query): group 'dashboard' targets 50 ms, '30-day' targets 100 ms."""
    day = TimeRange.last("24h", now=now)
    month = TimeRange.last("30d", now=now)
    by_model = {"group_by": ("model",)}
    return [
        ("dashboard", "latency p95 per model, 1 h (raw)", series(warehouse, "system:latency_ms", "p95", "1h", now, **by_model)),
        ("dashboard", "TTFT p99 per model, 1 h (raw)", series(warehouse, "system:ttft_ms", "p99", "1h", now, **by_model)),
        ("dashboard", "error rate per model, 1 h", series(warehouse, "system:error", "mean", "1h", now, **by_model)),
        ("dashboard", "output tokens/s per model, 1 h", series(warehouse, "system:output_tokens", "rate", "1h", now, **by_model)),
        ("dashboard", "latency p95 per model, 24 h (1m)", series(warehouse, "system:latency_ms", "p95", "24h", now, **by_model)),
        ("dashboard", "latency p95 per model, 7 d (1h)", series(warehouse, "system:latency_ms", "p95", "7d", now, **by_model)),
        ("dashboard", "calls per route, 1 h (raw labels)", series(warehouse, "system:calls", "count", "1h", now, group_by=("label:route",))),
        ("dashboard", "cost per hour per model, 24 h", lambda: cost_report(warehouse, project=PROJECT, time_range=day)),
        ("dashboard", "feedback mean, 24 h", series(warehouse, "grader:helpfulness", "mean", "24h", now)),
        ("dashboard", "leaderboard, 24 h (join)", lambda: leaderboard(warehouse, project=PROJECT, key="helpfulness", time_range=day)),
        ("dashboard", "metrics list", lambda: list_metrics(warehouse, project=PROJECT)),
        ("dashboard", "runs list", lambda: list_runs(warehouse, project=PROJECT)),
        ("dashboard", "run history 10k steps, EMA", lambda: run_history(warehouse, project=PROJECT, run_id="run-a", keys=["train/reward"], smoothing=Smoothing("ema", 0.9))),
        ("dashboard", "compare 2 runs, Gaussian", lambda: compare_runs(warehouse, project=PROJECT, run_ids=["run-a", "run-b"], keys=["train/reward"], smoothing=Smoothing("gaussian", 20))),
        ("30-day", "latency p95 per model, 30 d (1h)", series(warehouse, "system:latency_ms", "p95", "30d", now, **by_model)),
        ("30-day", "latency p99 per model, 30 d daily (1d)", series(warehouse, "system:latency_ms", "p99", "30d", now, interval_s=86_400, **by_model)),
        ("30-day", "error rate, 30 d (1h)", series(warehouse, "system:error", "mean", "30d", now)),
        ("30-day", "cost per day per model, 30 d", lambda: cost_report(warehouse, project=PROJECT, time_range=month, per="day")),
        ("30-day", "feedback mean, 30 d (1h)", series(warehouse, "grader:helpfulness", "mean", "30d", now)),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    store = benchmark_store("bench_queries")
    warehouse = store.warehouse
    try:
        seconds = load(warehouse, events=args.events, now=now)
        rows = warehouse.query_rows("SELECT count() AS n FROM raw_completions")[0]["n"]
        rollups = {
            name: warehouse.query_rows(f"SELECT count() AS n FROM {name}")[0]["n"]
            for name in ("metric_rollups_1m", "metric_rollups_1h", "metric_rollups_1d")
        }
        print(f"loaded {rows:,} completions in {seconds:.1f} s ({rows / seconds:,.0f} rows/s with"
              f" the rollup views); rollup rows: {rollups}")  # fmt: skip
        print(f"{'query':<46} {'p50 ms':>8} {'p95 ms':>8} {'target':>8}")
        for group, name, action in queries(warehouse, now):
            p50, p95 = timed(action, args.repeats)
            target = 50 if group == "dashboard" else 100
            verdict = "ok" if p95 <= target else "MISSED"
            print(f"{name:<46} {p50:>8.1f} {p95:>8.1f} {target:>6} {verdict}")
    finally:
        store.drop()


if __name__ == "__main__":
    main()

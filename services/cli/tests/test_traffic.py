"""Synthetic traffic is valid, deterministic and realistic in shape; no I/O."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime

from meterstream_cli.traffic import SyntheticTraffic, invalid_completion_lines
from meterstream_contracts import decode_envelope

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_same_seed_same_traffic() -> None:
    first = SyntheticTraffic(seed=3).completions(50, now=NOW)
    second = SyntheticTraffic(seed=3).completions(50, now=NOW)
    assert [c.latency_ms for c in first] == [c.latency_ms for c in second]


def test_latency_is_long_tailed_per_model() -> None:
    completions = SyntheticTraffic().completions(3000, now=NOW)
    mini = sorted(c.latency_ms for c in completions if c.model == "gpt-4o-mini")
    p50 = statistics.median(mini)
    p99 = mini[int(len(mini) * 0.99)]
    assert 500 < p50 < 800
    assert p99 > 2 * p50


def test_training_step_has_art_style_metrics_and_costs() -> None:
    events = SyntheticTraffic().training_step(run_id="r1", step=10, now=NOW)
    kinds = [e.kind for e in events]
    assert kinds == ["training_step", "api_cost", "api_cost", "gpu_cost"]


def test_invalid_lines_are_rejected_by_the_contract() -> None:
    for line in invalid_completion_lines(3, project="p"):
        decoded = decode_envelope(line, kind="completion")
        assert not decoded.events
        assert "latency_ms" in decoded.rejections[0].reason

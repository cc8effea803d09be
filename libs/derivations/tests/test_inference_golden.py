"""Golden rollup partials; expected numbers are worked out by hand here."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from meterstream_contracts import Completion
from meterstream_derivations.inference import build_partials, window_start
from meterstream_derivations.sketch import QuantileSketch
from meterstream_pricing import ModelPrice, PricingRegistry

T0 = datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC)


def call(seconds: float, model: str, latency: float, **fields: object) -> Completion:
    at = T0 + timedelta(seconds=seconds)
    return Completion.model_validate(
        {
            "project": "p",
            "model": model,
            "provider": "openai",
            "time": at,
            "started_at": at,
            "latency_ms": latency,
            **fields,
        }
    )


def pricing() -> PricingRegistry:
    registry = PricingRegistry()
    registry.register(ModelPrice("openai", "m1", date(2026, 1, 1), 2.0, 8.0, 1.0))
    return registry


def test_windows_counts_errors_tokens_costs_and_decode_time() -> None:
    completions = [
        call(0, "m1", 1000, ttft_ms=200, input_tokens=1000, output_tokens=100, cached_tokens=400),
        call(10, "m1", 500, ttft_ms=100, input_tokens=200, output_tokens=50),
        call(20, "m1", 800, status="error", error_type="rate_limited", input_tokens=300),
        call(70, "m1", 300, ttft_ms=50, input_tokens=100, output_tokens=10),  # next minute
        call(5, "m2", 900, input_tokens=10),  # no price registered
    ]
    result = build_partials(completions, window_seconds=60, partial_id="t:0:0-4", pricing=pricing())
    first, second, other = result.partials
    assert (first.model, first.window_start) == ("m1", datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    assert second.window_start == datetime(2026, 11, 20, 10, 1, tzinfo=UTC)
    assert (first.count, first.errors) == (3, {"error": 1})
    assert (first.input_tokens, first.output_tokens, first.cached_tokens) == (1500, 150, 400)
    # 600 uncached + 400 cached of the first call, 200 and 300 uncached of the others
    expected = (600 * 2.0 + 400 * 1.0 + 100 * 8.0 + 200 * 2.0 + 50 * 8.0 + 300 * 2.0) / 1e6
    assert first.cost_usd == pytest.approx(expected)
    assert first.decode_seconds == pytest.approx(0.8 + 0.4)  # (1000-200) + (500-100) ms
    sketch = QuantileSketch(bins=dict(first.latency_bins))
    median = sketch.quantile(0.5)
    assert median is not None
    assert median == pytest.approx(800, rel=0.01)
    assert second.count == 1
    assert other.model == "m2"
    assert other.cost_usd == 0.0
    assert result.unpriced == {("openai", "m2"): 1}
    assert all(p.partial_id == "t:0:0-4" for p in result.partials)


def test_a_late_completion_corrects_its_own_older_window() -> None:
    late = call(-3600, "m1", 100)
    (partial,) = build_partials(
        [late], window_seconds=10, partial_id="x", pricing=pricing()
    ).partials
    assert partial.window_start == window_start(late.time, 10)
    assert partial.window_start < T0 - timedelta(minutes=59)

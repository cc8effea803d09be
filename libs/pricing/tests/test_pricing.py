"""Usage normalisation and pricing; no I/O. Expected figures are computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest

from meterstream_pricing import (
    ModelPrice,
    PricingRegistry,
    UnknownModelPrice,
    Usage,
    default_registry,
    usage_from_response,
)


def test_openai_usage_counts_cached_tokens_inside_prompt_tokens() -> None:
    response = SimpleNamespace(
        usage=SimpleNamespace(
            prompt_tokens=1200,
            completion_tokens=80,
            prompt_tokens_details=SimpleNamespace(cached_tokens=1024),
        )
    )
    assert usage_from_response(response) == Usage(1200, 80, 1024, 0)


def test_anthropic_usage_adds_cache_reads_and_writes_back_to_input() -> None:
    response = {
        "usage": {
            "input_tokens": 100,
            "output_tokens": 300,
            "cache_read_input_tokens": 800,
            "cache_creation_input_tokens": 200,
        }
    }
    usage = usage_from_response(response)
    assert usage == Usage(1100, 300, 800, 200)
    assert usage is not None
    assert usage.uncached_input_tokens == 100


def test_no_usage_is_none() -> None:
    assert usage_from_response({"choices": []}) is None


def test_cost_prices_each_token_class() -> None:
    price = ModelPrice("anthropic", "m", date(2025, 1, 1), 3.0, 15.0, 0.3, 3.75)
    usage = Usage(
        input_tokens=1100,
        output_tokens=300,
        cached_input_tokens=800,
        cache_creation_input_tokens=200,
    )
    expected = (100 * 3.0 + 800 * 0.3 + 200 * 3.75 + 300 * 15.0) / 1e6
    assert price.cost_usd(usage) == pytest.approx(expected, abs=1e-12)


def test_the_price_in_force_on_the_event_day_is_used() -> None:
    registry = PricingRegistry()
    registry.register(ModelPrice("openai", "x", date(2025, 1, 1), 1.0, 2.0))
    registry.register(ModelPrice("openai", "x", date(2025, 6, 1), 0.5, 1.0))
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    early = registry.cost(usage, provider="openai", model="x", at=datetime(2025, 3, 1, tzinfo=UTC))
    late = registry.cost(
        usage, provider="openai", model="openai/x", at=datetime(2025, 7, 1, tzinfo=UTC)
    )
    assert early == (3.0, "openai/x@2025-01-01")
    assert late == (1.5, "openai/x@2025-06-01")
    with pytest.raises(UnknownModelPrice, match="openai/x on 2024-12-31"):
        registry.cost(usage, provider="openai", model="x", at=datetime(2024, 12, 31, tzinfo=UTC))


def test_custom_models_register_like_art() -> None:
    registry = default_registry()
    registry.register_model_pricing(
        "anthropic/my-custom-judge", prompt_per_million=1.2, completion_per_million=4.8
    )
    cost, version = registry.cost(Usage(1000, 500), provider="anthropic", model="my-custom-judge")
    assert cost == pytest.approx((1000 * 1.2 + 500 * 4.8) / 1e6)
    assert version == "anthropic/my-custom-judge@1970-01-01"


def test_negative_prices_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        ModelPrice("p", "m", date(2025, 1, 1), -1.0, 1.0)

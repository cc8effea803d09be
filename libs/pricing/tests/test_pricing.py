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
    read_usage,
    usage_from_response,
)
from meterstream_pricing.readers import usage_from_span


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


def test_an_openai_responses_usage_is_not_read_as_anthropic_shaped() -> None:
    usage = usage_from_response(
        {
            "usage": {
                "input_tokens": 1000,
                "output_tokens": 200,
                "total_tokens": 1200,
                "input_tokens_details": {"cached_tokens": 600},
                "output_tokens_details": {"reasoning_tokens": 30},
            }
        }
    )
    assert usage == Usage(1000, 200, 600, 0, 0, 30)


def test_gemini_usage_in_the_sdks_snake_case_bills_thoughts_as_output() -> None:
    usage = usage_from_response(
        SimpleNamespace(
            model_version="gemini-2.5-flash",
            usage_metadata={"prompt_token_count": 100, "candidates_token_count": 20,
                            "thoughts_token_count": 5, "cached_content_token_count": 40},
        )
    )  # fmt: skip
    assert usage == Usage(100, 25, 40, 0, 0, 5)


def test_bedrock_converse_adds_cache_reads_and_writes_to_input() -> None:
    usage = usage_from_response(
        {"usage": {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 100,
                   "cacheWriteInputTokens": 50}}
    )  # fmt: skip
    assert usage == Usage(160, 5, 100, 50)


def test_a_reported_cost_is_read_beside_the_usage() -> None:
    read = read_usage(
        {"model": "x", "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cost": 0.25}},
        provider="openrouter",
    )
    assert read is not None
    assert (read.usage, read.reported_cost_usd, read.model) == (Usage(10, 5), 0.25, "x")


def test_span_attributes_are_read_by_the_conventions_names() -> None:
    usage = usage_from_span(
        {
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 300,
            "gen_ai.usage.reasoning.output_tokens": 20,
        }
    )
    assert usage == Usage(1000, 50, 300, 0, 0, 20)
    with pytest.raises(ValueError, match=r"gen_ai\.usage\.input_tokens must be a non-negative"):
        usage_from_span({"gen_ai.usage.input_tokens": -1})


def test_a_tiered_price_charges_a_whole_call_at_the_tier_its_input_passes() -> None:
    upper = ModelPrice("google", "m", date(2025, 1, 1), 2.0, 20.0, version="m>100")
    price = ModelPrice("google", "m", date(2025, 1, 1), 1.0, 10.0, tiers=((100, upper),))
    assert price.cost_usd(Usage(100, 10)) == pytest.approx((100 * 1.0 + 10 * 10.0) / 1e6)
    assert price.cost_usd(Usage(101, 10)) == pytest.approx((101 * 2.0 + 10 * 20.0) / 1e6)
    # two calls of 80 in one sum are two calls below the tier
    assert price.cost_usd(Usage(160, 20, calls=2)) == pytest.approx((160 + 200) / 1e6)
    registry = PricingRegistry()
    registry.register(price)
    assert registry.cost(Usage(500, 1), provider="google", model="m")[1] == "m>100"


def test_the_catalogue_names_its_entries_and_an_override_wins() -> None:
    registry = default_registry()
    at = datetime(2026, 11, 2, tzinfo=UTC)
    bedrock = registry.price_at("aws.bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", at)
    assert bedrock.version.startswith("genai-prices:aws/")
    assert (bedrock.prompt_per_million, bedrock.cache_write_per_million) == (3.0, 3.75)
    assert (
        registry.price_at("openai", "gpt-4o", at).version
        == registry.price_at("openai", "gpt-4o-2024-08-06", at).version
    )  # the same catalogue entry, the same version
    registry.register(ModelPrice("openai", "gpt-4o", date(2026, 1, 1), 1.0, 2.0))
    assert registry.price_at("openai", "gpt-4o", at).version == "openai/gpt-4o@2026-01-01"
    with pytest.raises(UnknownModelPrice, match="neither the registry nor the catalogue"):
        registry.price_at("openai", "acme-finetune-7", at)

"""Costs to the cent: each provider response, measured by the SDK's completion wrapper and
priced by the workers' first phase, costs what genai-prices' own calculation says (the
oracle) and what the provider's published prices give by hand. No I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import genai_prices
import pytest

from meterstream_contracts import ApiCost, Completion
from meterstream_contracts.derived import CostEntry
from meterstream_derivations.inference import (
    Call,
    PartialsResult,
    Prices,
    build_partials_from_calls,
)
from meterstream_derivations.ledger import api_cost_entries, plan_repricing
from meterstream_pricing import ModelPrice, PricingRegistry, default_registry
from meterstream_sdk import AsyncClient
from meterstream_sdk.completions import CompletionTracker
from meterstream_sdk.config import SdkConfig
from meterstream_sdk.testing import RecordingTransport
from tests.oracle.price_cases import AT, CASES, M, PriceCase, chat, gemini_rest

EXACT = 1e-12
"""USD: well inside reconcile's 1e-9."""


def recorder(records: list[dict[str, Any]]) -> Callable[[str, dict[str, Any]], str]:
    def emit(kind: str, record: dict[str, Any]) -> str:
        records.append(record)
        return ""

    return emit


def tracked(case: PriceCase, response: Any = None) -> Completion:
    """The completion the SDK's wrapper emits for the case's response, at the case's time."""
    records: list[dict[str, Any]] = []
    tracker = CompletionTracker(
        recorder(records),
        lambda *_: None,
        project="costs",
        model=case.model,
        provider=case.provider,
    )
    with tracker:
        tracker.observe(case.response if response is None else response)
    (record,) = records
    return Completion.model_validate({**record, "time": case.at, "started_at": case.at})


def spent(case: PriceCase, project: str = "costs") -> tuple[float | None, ApiCost]:
    """What `run.track_api_cost` returns and emits for the case's response, at its time."""

    async def spend() -> tuple[float | None, list[ApiCost]]:
        recorder = RecordingTransport()
        client = AsyncClient(project=project, config=SdkConfig(), transport=recorder)
        await client._emitter.start()
        run = client.init_run(name="r")
        returned = run.track_api_cost(
            case.response, source="judge", provider=case.provider, model_name=case.model
        )
        await client._emitter.flush()
        await client._emitter.close()
        return returned, [e for e in recorder.events() if isinstance(e, ApiCost)]

    returned, (event,) = asyncio.run(spend())
    return returned, event.model_copy(update={"time": case.at})


def priced(completions: list[Completion], pricing: PricingRegistry | None = None) -> PartialsResult:
    return build_partials_from_calls(
        [Call.of(c) for c in completions],
        window_seconds=(10, 60),
        partial_id="oracle",
        pricing=pricing or default_registry(),
    )


def oracle(case: PriceCase) -> genai_prices.types.PriceCalculation:
    provider_id, flavour = case.oracle
    extracted = genai_prices.extract_usage(
        case.oracle_payload(), provider_id=provider_id, api_flavor=flavour
    )
    return genai_prices.calc_price(
        extracted.usage, case.model, provider_id=provider_id, genai_request_timestamp=case.at
    )


def total(lines: list[CostEntry]) -> float:
    return sum(line.cost_usd for line in lines)


def test_there_are_thirty_cases_over_every_shape() -> None:
    assert len(CASES) >= 30
    assert {case.oracle[0] for case in CASES} >= {"openai", "anthropic", "google", "aws"}
    assert {type(case.response).__name__ for case in CASES} >= {
        "ChatCompletion",
        "Response",
        "Message",
        "GenerateContentResponse",
        "ModelResponse",
        "dict",
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_cost_is_the_catalogues_and_the_hand_computed_one(case: PriceCase) -> None:
    completion = tracked(case)
    result = priced([completion])
    (line,) = result.ledger
    expected = oracle(case)
    assert float(expected.total_price) == pytest.approx(case.hand_usd, abs=EXACT)
    assert line.cost_usd == pytest.approx(float(expected.total_price), abs=EXACT)
    assert line.cost_source == "catalogue"
    assert line.price_version.startswith(f"genai-prices:{expected.provider.id}/{expected.model.id}")
    assert line.reported_cost_usd == pytest.approx(case.reported_usd or 0.0)
    assert result.unpriced == {}
    # the window partials carry the same cost, every window length
    assert {p.window_seconds: p.cost_usd for p in result.partials} == {
        10: pytest.approx(line.cost_usd, abs=EXACT),
        60: pytest.approx(line.cost_usd, abs=EXACT),
    }


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_token_the_provider_counted_is_kept(case: PriceCase) -> None:
    completion = tracked(case)
    provider_id, flavour = case.oracle
    usage = genai_prices.extract_usage(
        case.oracle_payload(), provider_id=provider_id, api_flavor=flavour
    ).usage
    assert completion.input_tokens == usage.reported_value("input_tokens") > 0
    assert completion.output_tokens == usage.reported_value("output_tokens") > 0
    assert completion.cached_tokens == usage.reported_value("cache_read_tokens")
    assert completion.cache_creation_tokens == usage.reported_value("cache_write_tokens")
    assert completion.cache_creation_1h_tokens == usage.reported_value("cache_write_1h_tokens")
    assert completion.reasoning_tokens == usage.reported_value("output_reasoning_tokens")
    assert completion.reported_cost_usd == case.reported_usd


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_track_api_cost_prices_a_response_as_the_completion_wrapper_does(case: PriceCase) -> None:
    returned, event = spent(case)
    (line,) = api_cost_entries(
        [event], entry_id="api_cost:0:1", window_seconds=10, prices=Prices(default_registry())
    )
    assert line.cost_usd == pytest.approx(case.hand_usd, abs=EXACT)
    assert line.cost_source == "catalogue"
    assert (line.cache_write_tokens, line.cache_write_1h_tokens, line.reasoning_tokens) == (
        tracked(case).cache_creation_tokens,
        tracked(case).cache_creation_1h_tokens,
        tracked(case).reasoning_tokens,
    )
    # what it returns is priced now (as the SDK prices a call as it happens)
    now = float(oracle(replace(case, at=datetime.now(UTC))).total_price)
    assert returned == pytest.approx(now, abs=EXACT)


GEMINI_PRO = CASES[
    [case.name for case in CASES].index("gemini sdk, 2.5 pro below its tier, thoughts")
]


def test_two_calls_below_a_tier_in_one_bucket_are_each_priced_below_it() -> None:
    one = tracked(GEMINI_PRO, gemini_rest("gemini-2.5-pro", 120_000, 100))
    two = one.model_copy(update={"completion_id": "second", "event_id": one.event_id.int + 1})
    result = priced([one, two])  # 240k input in the bucket: over 200k, but no call is
    each = (120_000 * 1.25 + 100 * 10) / M
    assert total(result.ledger) == pytest.approx(2 * each, abs=EXACT)
    single = oracle(
        PriceCase("", "google", "gemini-2.5-pro", gemini_rest("gemini-2.5-pro", 120_000, 100),
                  ("google", "default"), each)
    )  # fmt: skip
    assert total(result.ledger) == pytest.approx(2 * float(single.total_price), abs=EXACT)


def test_a_bucket_with_calls_on_both_sides_of_a_tier_prices_each_at_its_own() -> None:
    below = tracked(GEMINI_PRO, gemini_rest("gemini-2.5-pro", 150_000, 1000))
    above = tracked(GEMINI_PRO, gemini_rest("gemini-2.5-pro", 260_000, 1000))
    result = priced([below, above])
    versions = sorted(line.price_version for line in result.ledger)
    assert len(versions) == 2
    assert versions[1] == f"{versions[0]}>200000"
    expected = (150_000 * 1.25 + 1000 * 10 + 260_000 * 2.5 + 1000 * 15) / M
    assert total(result.ledger) == pytest.approx(expected, abs=EXACT)
    (window,) = [p for p in result.partials if p.window_seconds == 60]
    assert window.cost_usd == pytest.approx(expected, abs=EXACT)


def test_an_override_wins_over_the_catalogue_from_its_day() -> None:
    pricing = default_registry()
    # an override of gpt-4o covers the dated snapshots calls name (the catalogue's matching)
    pricing.register(ModelPrice("openai", "gpt-4o", date(2026, 11, 1), 2.0, 8.0, 1.0))
    case = CASES[0]  # gpt-4o-2024-08-06, 1000 in (600 cached), 200 out
    (line,) = priced([tracked(case)], pricing).ledger
    assert line.cost_usd == pytest.approx((400 * 2.0 + 600 * 1.0 + 200 * 8) / M, abs=EXACT)
    assert (line.cost_source, line.price_version) == ("registry", "openai/gpt-4o@2026-11-01")
    early = tracked(case).model_copy(update={"time": AT.replace(month=10)})
    (before,) = priced([early], pricing).ledger  # before the override: the catalogue's
    assert before.cost_source == "catalogue"
    assert before.cost_usd == pytest.approx(case.hand_usd, abs=EXACT)


def test_a_model_no_price_is_known_for_is_counted_never_silently_free() -> None:
    case = CASES[1]
    unknown = tracked(case).model_copy(update={"model": "acme-finetune-7"})
    result = priced([unknown])
    (line,) = result.ledger
    assert (line.cost_source, line.price_version, line.cost_usd) == ("unpriced", "", 0.0)
    assert result.unpriced == {("openai", "acme-finetune-7"): 1}
    assert {p.unpriced for p in result.partials} == {1}
    # with a cost reported beside it, that cost is charged, and said to be the reported one
    reported = unknown.model_copy(update={"reported_cost_usd": 0.0042})
    (line,) = priced([reported]).ledger
    assert (line.cost_source, line.price_version, line.cost_usd) == ("reported", "reported", 0.0042)


def test_a_reported_cost_never_replaces_the_computed_one() -> None:
    case = next(case for case in CASES if case.provider == "openrouter")
    completion = tracked(case).model_copy(update={"reported_cost_usd": 1.0})
    (line,) = priced([completion]).ledger
    assert line.cost_usd == pytest.approx(case.hand_usd, abs=EXACT)
    assert line.reported_cost_usd == 1.0


def test_usage_the_library_reads_from_the_chunks_of_a_stream() -> None:
    chunk = chat("gpt-4o-mini", 1500, 300)
    chunk["choices"] = []
    chunk["object"] = "chat.completion.chunk"
    records: list[dict[str, Any]] = []
    tracker = CompletionTracker(
        recorder(records), lambda *_: None,
        project="costs", model="gpt-4o-mini", provider="openai",
    )  # fmt: skip
    with tracker:
        for _ in tracker.stream(iter([{"choices": [{"delta": {"content": "o"}}]}, chunk])):
            pass
    assert (records[0]["input_tokens"], records[0]["output_tokens"]) == (1500, 300)


def test_repricing_follows_a_catalogue_release_and_then_an_override() -> None:
    case = CASES[0]
    (line,) = priced([tracked(case)]).ledger
    # as a previous catalogue release charged it: another digest, another cost
    old = line.model_copy(update={"price_version": "genai-prices:openai/gpt-4o#00000000",
                                  "cost_usd": 0.01})  # fmt: skip
    plan = plan_repricing([old], default_registry(), windows=(10, 60))
    assert [(e.price_version, e.cost_usd) for e in plan.ledger] == [
        (old.price_version, -0.01),
        (line.price_version, pytest.approx(case.hand_usd, abs=EXACT)),
    ]
    assert {round(p.cost_usd, 12) for p in plan.adjustments} == {round(case.hand_usd - 0.01, 12)}
    ledger = [old, *plan.ledger]
    assert plan_repricing(ledger, default_registry(), windows=(10, 60)).ledger == []
    # then an override of the model, effective before the call: the past follows it
    pricing = default_registry()
    pricing.register(ModelPrice("openai", "gpt-4o", date(2026, 1, 1), 2.0, 8.0, 1.0))
    again = plan_repricing(ledger, pricing, windows=(10, 60))
    assert sum(e.cost_usd for e in [*ledger, *again.ledger]) == pytest.approx(
        (400 * 2.0 + 600 * 1.0 + 200 * 8) / M, abs=EXACT
    )
    assert again.ledger[-1].cost_source == "registry"


def test_a_price_that_arrives_for_unpriced_calls_reprices_them_and_their_count() -> None:
    unknown = tracked(CASES[1]).model_copy(update={"model": "acme-finetune-7"})
    (line,) = priced([unknown]).ledger
    pricing = default_registry()
    pricing.register(ModelPrice("openai", "acme-finetune-7", date(2026, 1, 1), 1.0, 2.0))
    plan = plan_repricing([line], pricing, windows=(10, 60))
    assert plan.ledger[-1].cost_usd == pytest.approx((1500 * 1.0 + 300 * 2.0) / M, abs=EXACT)
    assert {(p.window_seconds, p.unpriced) for p in plan.adjustments} == {(10, -1), (60, -1)}

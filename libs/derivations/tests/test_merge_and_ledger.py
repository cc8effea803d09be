"""Merging partials, the cost ledger and re-pricing: hand-worked numbers, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from pydantic import ValidationError

from meterstream_contracts import Completion
from meterstream_contracts.derived import InferenceRollup
from meterstream_contracts.events import CompletionStatus
from meterstream_derivations.inference import Call, build_partials_from_calls
from meterstream_derivations.ledger import original_id, plan_repricing
from meterstream_derivations.merge import (
    MergedWindow,
    ModelTotals,
    Partial,
    PartialSums,
    ProjectTotals,
    decode_partials,
    slice_of,
)
from meterstream_pricing import ModelPrice, PricingRegistry

T0 = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
APPENDED = T0 + timedelta(minutes=5)


def registry() -> PricingRegistry:
    pricing = PricingRegistry()
    pricing.register(ModelPrice("openai", "m", date(2026, 1, 1), 1.0, 2.0))  # $ per 1M tokens
    return pricing


def call(
    second: int,
    *,
    tokens_in: int = 1000,
    tokens_out: int = 500,
    status: CompletionStatus = "ok",
    provider: str = "openai",
) -> Call:
    at = T0 + timedelta(seconds=second)
    return Call.of(
        Completion(
            project="p",
            model="m",
            provider=provider,
            time=at,
            started_at=at,
            latency_ms=100.0,
            ttft_ms=20.0,
            input_tokens=tokens_in,
            output_tokens=tokens_out,
            status=status,
        )
    )


def partials(slice_: str, calls: list[Call], pricing: PricingRegistry) -> list[InferenceRollup]:
    result = build_partials_from_calls(
        calls, window_seconds=(10, 60), partial_id=slice_, pricing=pricing, as_of=APPENDED
    )
    return result.partials


def test_slice_ids_name_a_namespace_and_an_offset() -> None:
    assert slice_of("3:1200") == ("3", 1200)
    assert slice_of("reprice:openai/m@2026-01-01:3:1200") == ("reprice:openai/m@2026-01-01:3", 1200)


def test_a_window_merges_each_partial_once_whatever_is_replayed() -> None:
    pricing = registry()
    first = partials("0:1", [call(1), call(2, status="error")], pricing)
    second = partials("0:2", [call(3)], pricing)
    window = MergedWindow.for_partial(first[0])
    ten = [p for p in (*first, *second) if p.window_seconds == 10]
    assert [window.absorb(p) for p in ten] == [True, True]
    assert [window.absorb(p) for p in ten] == [False, False]  # a replay after a crash
    record = window.to_record(final=False)
    assert (record.count, record.errors, record.revision) == (3, {"error": 1}, 2)
    assert record.input_tokens == 3000
    assert record.cost_usd == pytest.approx(3 * (1000 * 1.0 + 500 * 2.0) / 1e6)
    assert record.decode_tokens_per_s == pytest.approx(1000 / (2 * 0.08))  # ok calls only


def test_a_window_s_state_is_a_copy_that_restores_it_whole() -> None:
    pricing = registry()
    first = partials("0:1", [call(1), call(2, status="error")], pricing)
    later = partials("0:2", [call(3)], pricing)
    window = MergedWindow.for_partial(first[0])
    window.absorb(first[0])
    state = window.state()
    snapshot = orjson.loads(
        orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)
    )  # what the changelog would carry
    window.absorb(later[0])  # merging on must not reach into the state written before
    assert orjson.loads(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS)) == snapshot
    restored = MergedWindow.from_state(state)
    assert restored.absorb(first[0]) is False  # the marks came back
    assert restored.absorb(later[0]) is True
    assert restored == window


def test_partials_decoded_from_the_topic_merge_exactly_as_the_models_do() -> None:
    pricing = registry()
    made = [
        *partials("0:1", [call(1), call(2, status="error"), call(15)], pricing),
        *partials("0:2", [call(3, tokens_in=7)], pricing),
    ]
    decoded = decode_partials(b"\n".join(p.model_dump_json().encode() for p in made))
    assert [type(p) for p in decoded] == [PartialSums] * len(made)
    by_model: dict[tuple[int, int], MergedWindow] = {}
    by_decoded: dict[tuple[int, int], MergedWindow] = {}
    sources: list[tuple[list[Partial], dict[tuple[int, int], MergedWindow]]] = [
        (list(made), by_model),
        (decoded, by_decoded),
    ]
    for source, into in sources:
        for partial in source:
            key = (partial.window_seconds, int(partial.window_start.timestamp()))
            window = into.setdefault(key, MergedWindow.for_partial(partial))
            window.absorb(partial)
    assert by_decoded == by_model
    assert sum(w.count for (length, _), w in by_decoded.items() if length == 10) == 4


def test_a_partial_that_breaks_the_contract_is_refused_with_its_reason() -> None:
    good = partials("0:1", [call(1)], registry())[0].model_dump_json().encode()
    with pytest.raises(ValidationError, match="count"):
        decode_partials(good + b"\n" + good.replace(b'"count":1', b'"count":-1'))


def test_totals_take_every_window_of_a_slice_once() -> None:
    pricing = registry()
    # one message whose calls fall in two 10 s windows: two partials with the same id
    slice_partials = [
        p for p in partials("2:7", [call(1), call(15)], pricing) if p.window_seconds == 10
    ]
    assert len(slice_partials) == 2
    totals = ModelTotals("p", "m")
    assert [totals.absorb(p) for p in slice_partials] == [True, True]
    assert [totals.absorb(p) for p in slice_partials] == [False, False]
    assert (totals.count, totals.input_tokens) == (2, 2000)
    restored = ModelTotals.from_state(totals.state())
    assert restored.absorb(slice_partials[1]) is False  # the marks survive the changelog


def test_project_totals_keep_the_latest_of_each_model() -> None:
    project = ProjectTotals("p")
    a = ModelTotals("p", "a", revision=3, through=10, count=5, cost_usd=1.0).to_record()
    b = ModelTotals("p", "b", revision=1, through=20, count=2, cost_usd=0.5).to_record()
    older_a = ModelTotals("p", "a", revision=2, count=4).to_record()
    assert project.absorb(a)
    assert project.absorb(b)
    assert not project.absorb(older_a)
    record = project.to_record()
    assert (record.model, record.count, record.revision) == ("", 7, 4)
    assert record.cost_usd == pytest.approx(1.5)


def test_calls_either_side_of_midnight_take_their_own_day_s_price_version() -> None:
    pricing = registry()
    midnight = datetime(2026, 11, 21, tzinfo=UTC)
    pricing.register(ModelPrice("openai", "m", date(2026, 11, 21), 10.0, 20.0, published_at=T0))
    calls = [
        call(int((at - T0).total_seconds()))
        for at in (midnight - timedelta(seconds=5), midnight + timedelta(seconds=5))
    ]
    result = build_partials_from_calls(
        calls, window_seconds=(10, 60), partial_id="0:1", pricing=pricing, as_of=midnight
    )
    by_day = {entry.window_start.day: entry for entry in result.ledger}
    assert by_day[20].price_version != by_day[21].price_version
    assert by_day[20].cost_usd == pytest.approx((1000 * 1.0 + 500 * 2.0) / 1e6)
    assert by_day[21].cost_usd == pytest.approx((1000 * 10.0 + 500 * 20.0) / 1e6)


def test_a_window_of_several_buckets_sums_them_and_leaves_each_bucket_s_ledger_line_alone() -> None:
    pricing = registry()
    calls = [call(1), call(15, tokens_in=10), call(25, status="error"), call(2, provider="azure")]
    result = build_partials_from_calls(
        calls, window_seconds=(10, 60), partial_id="0:1", pricing=pricing, as_of=APPENDED
    )
    minute = [p for p in result.partials if p.window_seconds == 60]
    assert [(p.count, p.input_tokens, p.errors) for p in minute] == [(4, 3010, {"error": 1})]
    assert sum(minute[0].latency_bins.values()) == 4
    first_ten = next(p for p in result.partials if p.window_seconds == 10)
    assert (first_ten.count, sum(first_ten.latency_bins.values())) == (2, 2)  # two providers
    lines = sorted((e.provider, e.count, e.input_tokens) for e in result.ledger)
    assert lines == [
        ("azure", 1, 1000),
        ("openai", 1, 10),
        ("openai", 1, 1000),
        ("openai", 1, 1000),
    ]


def test_a_shortest_window_that_does_not_divide_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="7 s must divide a day"):
        build_partials_from_calls(
            [call(1)], window_seconds=(7, 14), partial_id="0:1", pricing=registry()
        )


def test_prices_published_after_a_message_was_appended_do_not_apply_to_it() -> None:
    pricing = registry()
    later = ModelPrice(
        "openai", "m", date(2026, 11, 1), 10.0, 20.0, published_at=APPENDED + timedelta(hours=1)
    )
    pricing.register(later)
    before = build_partials_from_calls(
        [call(1)], window_seconds=10, partial_id="0:1", pricing=pricing, as_of=APPENDED
    )
    after = build_partials_from_calls(
        [call(1)], window_seconds=10, partial_id="0:1", pricing=pricing, as_of=later.published_at
    )
    assert before.ledger[0].price_version == "openai/m@2026-01-01"
    assert before.ledger[0].cost_usd == pytest.approx(0.002)  # 1000*1 + 500*2 per 1M
    assert after.ledger[0].price_version == later.version
    assert after.ledger[0].cost_usd == pytest.approx(0.02)


def test_repricing_reverses_the_old_charge_and_adjusts_the_windows_once() -> None:
    pricing = registry()
    result = build_partials_from_calls(
        [call(1), call(2), call(12)],
        window_seconds=(10, 60),
        partial_id="3:40",
        pricing=pricing,
        as_of=APPENDED,
    )
    ledger = result.ledger
    assert [(e.entry_id, e.count) for e in ledger] == [
        ("completion:3:40", 2),
        ("completion:3:40", 1),
    ]
    new = ModelPrice(
        "openai", "m", date(2026, 11, 1), 3.0, 2.0, published_at=APPENDED + timedelta(days=1)
    )
    pricing.register(new)

    plan = plan_repricing(ledger, pricing, windows=(10, 60))
    # per slice and 10 s bucket: a reversal at the old version and a charge at the new one
    assert len(plan.ledger) == 4
    assert sum(e.count for e in plan.ledger) == 0
    old_total = sum(e.cost_usd for e in ledger)
    assert old_total + sum(e.cost_usd for e in plan.ledger) == pytest.approx(
        3 * (3000 + 1000) / 1e6
    )
    assert {e.entry_id for e in plan.ledger} == {f"reprice:{new.version}:completion:3:40"}
    assert all(original_id(e.entry_id) == "completion:3:40" for e in plan.ledger)
    deltas = {(p.window_seconds, p.window_start): p.cost_usd for p in plan.adjustments}
    assert deltas[(60, T0)] == pytest.approx(3 * 2000 / 1e6)  # +2 $/1M on 1000 input tokens each
    assert sum(v for (length, _), v in deltas.items() if length == 10) == pytest.approx(0.006)
    assert all(p.count == 0 for p in plan.adjustments)

    again = plan_repricing([*ledger, *plan.ledger], pricing, windows=(10, 60))
    assert again.ledger == []  # nothing left to re-price
    assert again.adjustments == []


def test_a_reported_cost_is_kept_beside_the_price_and_charged_only_when_unpriced() -> None:
    from meterstream_contracts import ApiCost, TokenUsage
    from meterstream_derivations.inference import Prices
    from meterstream_derivations.ledger import api_cost_entries

    pricing = registry()

    def spend(model: str, tokens: int, reported: float | None) -> ApiCost:
        return ApiCost(
            project="p",
            source="judge",
            provider="openai",
            model=model,
            usage=TokenUsage(input_tokens=tokens),
            cost_usd=reported,
            time=T0,
        )

    costs = [spend("m", 10, 0.5), spend("m", 1_000_000, None), spend("unknown", 10, 0.25)]
    lines = api_cost_entries(
        costs, entry_id="api_cost:0:1", window_seconds=10, prices=Prices(pricing, APPENDED)
    )
    assert sorted(
        (e.price_version, e.cost_source, e.cost_usd, e.reported_cost_usd) for e in lines
    ) == [
        ("openai/m@2026-01-01", "registry", pytest.approx(1.00001), 0.5),
        ("reported", "reported", 0.25, 0.25),
    ]
    # A price for the model charged at its reported cost re-prices it: computed wins.
    pricing.register(
        ModelPrice("openai", "unknown", date(2026, 1, 1), 2.0, 2.0, published_at=APPENDED)
    )
    plan = plan_repricing(lines, pricing, windows=(10,))
    assert [(e.cost_source, e.cost_usd, e.reported_cost_usd) for e in plan.ledger] == [
        ("reported", -0.25, -0.25),
        ("registry", pytest.approx(2e-5), 0.25),
    ]

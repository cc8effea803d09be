"""The Rust sums of an envelope give the partials and the ledger the Python builder gives,
to the bit; whatever they decline is left to the Python builder. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from meterstream_contracts import Completion, encode_event
from meterstream_derivations.inference import (
    Call,
    PartialsResult,
    build_partials_from_calls,
    build_partials_from_envelope,
)
from meterstream_pricing import default_registry

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
WINDOWS = (10, 60, 3600)
PRICING = default_registry()
# priced, and unpriced (no provider, an unknown model)
MODELS = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4"), (None, "gpt-4o"),
          ("openai", "in-house-7b")]  # fmt: skip


@st.composite
def completions(draw: st.DrawFn) -> Completion:
    provider, model = draw(st.sampled_from(MODELS))
    latency = draw(st.sampled_from([0.0, 1e-10, 1e-9]) | st.floats(0, 300_000))
    output_tokens = draw(st.integers(0, 1 << 20))
    failed = draw(st.booleans())
    return Completion(
        event_id=draw(st.uuids()),
        completion_id=draw(st.from_regex(r"c[0-9]{1,6}", fullmatch=True)),
        project=draw(st.sampled_from(["p", "q"])),
        model=model,
        provider=provider,
        time=T0 + timedelta(microseconds=draw(st.integers(0, 4 * 3600 * 10**6))),
        started_at=T0,
        latency_ms=latency,
        ttft_ms=draw(st.none() | st.floats(0, latency)),
        input_tokens=draw(st.integers(0, 400_000)),
        output_tokens=output_tokens,
        reasoning_tokens=draw(st.integers(0, output_tokens)),
        status=draw(st.sampled_from(["error", "timeout"])) if failed else "ok",
        streamed=True,
    )


def both_ways(events: list[Completion]) -> tuple[PartialsResult | None, PartialsResult]:
    built = {"window_seconds": WINDOWS, "partial_id": "3:41", "pricing": PRICING, "as_of": T0}
    value = b"\n".join(map(encode_event, events))
    native = build_partials_from_envelope(value, **built)  # type: ignore[arg-type]
    calls = [Call.of(event) for event in events]
    return native, build_partials_from_calls(calls, **built)  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(events=st.lists(completions(), min_size=1, max_size=80))
def test_rust_sums_give_the_partials_and_ledger_of_the_python_builder(
    events: list[Completion],
) -> None:
    native, reference = both_ways(events)
    assert native is not None
    assert native.partials == reference.partials
    assert native.ledger == reference.ledger
    assert native.unpriced == reference.unpriced


def test_a_plain_envelope_takes_the_rust_path() -> None:
    events = [
        Completion(project="p", model="gpt-4o", provider="openai", started_at=T0,
                   time=T0 + timedelta(seconds=i), latency_ms=100.0 + i, ttft_ms=20.0)
        for i in range(30)
    ]  # fmt: skip
    native, reference = both_ways(events)
    assert native is not None
    assert native.partials == reference.partials
    assert sum(p.count for p in native.partials if p.window_seconds == 60) == 30


def test_what_the_rust_reading_declines_is_left_to_python() -> None:
    plain = Completion(project="p", model="gpt-4o", provider="openai", started_at=T0, time=T0,
                       latency_ms=100.0, input_tokens=300_000)  # fmt: skip
    reported = plain.model_copy(update={"reported_cost_usd": 0.01})
    assert both_ways([plain, reported])[0] is None  # reported costs are split apart
    tiered = plain.model_copy(update={"provider": "google", "model": "gemini-2.5-pro"})
    assert both_ways([plain, tiered])[0] is None  # a price with tiers splits a bucket
    built = {"window_seconds": WINDOWS, "partial_id": "3:41", "pricing": PRICING}
    for line in (
        b'{"project":"p","model":"m","time":"2026-11-20T10:00:00","latency_ms":1}',
        b'{"project":"p","model":"m","time":"2026-11-20T10:00:00Z","latency_ms":-1}',
        b'{"project":"p","model":"m","time":"2026-11-20T10:00:00Z"}',
        b'{"project":"p","model":"m","time":"2026-11-20T10:00:00Z","latency_ms":1,"status":null}',
    ):
        assert build_partials_from_envelope(line, **built) is None, line  # type: ignore[arg-type]

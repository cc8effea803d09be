"""Both reading paths give the same partials; a lying header falls back safely. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from meterstream_contracts import Completion, MessageOrigin, pack_envelope
from meterstream_pricing import default_registry
from meterstream_workers.first_phase import calls_of, completion_outputs

ORIGIN = MessageOrigin("meterstream.raw.completions", 3, 41, 1_763_632_800_000)
T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)


def envelope() -> bytes:
    return pack_envelope(
        [
            Completion(
                project="p",
                model=("gpt-4o", "gpt-4o-mini")[i % 2],
                provider="openai",
                time=T0 + timedelta(seconds=i),
                started_at=T0,
                latency_ms=100.0 + i,
                ttft_ms=20.0,
                input_tokens=i,
                status="error" if i % 5 == 0 else "ok",
            )
            for i in range(50)
        ]
    )


def test_trusted_and_careful_paths_give_identical_partials() -> None:
    value = envelope()
    fast = completion_outputs(
        value, origin=ORIGIN, validated=True, windows=(10, 60), pricing=default_registry()
    ).partials
    careful = completion_outputs(
        value, origin=ORIGIN, validated=False, windows=(10, 60), pricing=default_registry()
    ).partials
    assert fast == careful
    assert {p.partial_id for p in fast} == {"3:41"}
    assert sum(p.count for p in fast if p.window_seconds == 60) == 50


def test_a_header_that_lies_falls_back_to_validation() -> None:
    value = envelope() + b'\n{"kind":"completion","project":"p","latency_ms":-1}'
    calls = calls_of(value, origin=ORIGIN, validated=True)
    assert len(calls) == 50  # the broken line is dropped by the contract, the rest kept


def test_blank_lines_and_a_document_over_several_lines_are_read_as_their_events() -> None:
    lines = envelope().split(b"\n")
    spread = lines[1].replace(b',"', b',\n"')  # one event written over several lines
    value = b"\n\n".join([lines[0], *lines[2:]]) + b"\n"
    assert calls_of(value, origin=ORIGIN, validated=True) == calls_of(
        b"\n".join([lines[0], *lines[2:]]), origin=ORIGIN, validated=False
    )
    assert len(calls_of(spread, origin=ORIGIN, validated=True)) == 1

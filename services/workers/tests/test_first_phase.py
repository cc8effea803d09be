"""Both reading paths give the same partials; a lying header falls back safely. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterstream_contracts import (
    Completion,
    GraderScore,
    MessageOrigin,
    MetricValue,
    Preference,
    pack_envelope,
)
from meterstream_derivations.feedback import Source
from meterstream_pricing import default_registry
from meterstream_workers.first_phase import (
    calls_of,
    completion_outputs,
    feedback_outputs,
    read_feedback,
)

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


FEEDBACK: dict[Source, list[MetricValue | GraderScore | Preference]] = {
    "metric_value": [
        MetricValue(project="p", completion_id=f"c{i}", key=("thumbs", "custom-len")[i % 2],
                    value=(1.0, 0.0, 3.5)[i % 3], category=("user", "custom")[i % 2],
                    time=T0 + timedelta(seconds=7 * i))
        for i in range(30)
    ],
    "grader_score": [
        GraderScore(project="p", completion_id=f"c{i}", grader_name="judge", grader_type="judge",
                    key="correct", value=i / 30, passed=(None, True, False)[i % 3],
                    time=T0 + timedelta(seconds=7 * i))
        for i in range(30)
    ],
    "preference": [
        Preference(project=("p", "q")[i % 2], key="pref", preferred_completion_id=f"a{i}",
                   other_completion_id=f"b{i}", time=T0 + timedelta(seconds=7 * i))
        for i in range(30)
    ],
}  # fmt: skip


def feedback_partials(kind: Source, value: bytes, *, validated: bool) -> list[object]:
    return list(
        feedback_outputs(
            kind, value, origin=ORIGIN, validated=validated, windows=(10, 60),
            key_info=lambda project, key: ("higher_is_better", "bool") if key == "thumbs" else None,
        ).partials
    )  # fmt: skip


@pytest.mark.parametrize("kind", list(FEEDBACK))
def test_feedback_read_either_way_gives_identical_partials(kind: Source) -> None:
    value = pack_envelope(FEEDBACK[kind])
    assert read_feedback(kind, value, origin=ORIGIN, validated=True)[1] is None  # trusted
    fast = feedback_partials(kind, value, validated=True)
    assert fast == feedback_partials(kind, value, validated=False)
    assert sum(p.count for p in fast if p.window_seconds == 60) == 30  # type: ignore[attr-defined]


LIED = b'"project":"p","key":"k","time":"2026-11-20T10:00:00'


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("metric_value", b'{"kind":"metric_value",' + LIED + b'Z"}'),
        ("metric_value", b'{"kind":"grader_score","value":1,' + LIED + b'Z"}'),
        ("grader_score", b'{"kind":"grader_score","value":1,' + LIED + b'"}'),
    ],
    ids=["no value", "another kind", "a time without its offset"],
)  # fmt: skip
def test_a_feedback_header_that_lies_falls_back_to_the_contract(kind: Source, line: bytes) -> None:
    value = pack_envelope(FEEDBACK[kind][:3]) + b"\n" + line
    feedback, events = read_feedback(kind, value, origin=ORIGIN, validated=True)
    assert events is not None  # the contract read it
    assert len(feedback) == 3  # the broken line is dropped (the sink dead-letters it)

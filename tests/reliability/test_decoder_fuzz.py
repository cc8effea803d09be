"""Decoder fuzzing (hypothesis): whatever bytes arrive in an envelope, decoding never raises,
every valid event is kept in order, and every other line is rejected with a reason."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterstream_contracts import Completion, decode_envelope, encode_event

START = datetime(2026, 11, 22, tzinfo=UTC)

PRINTABLE = st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_characters="\x7f")
completions = st.builds(
    Completion,
    event_id=st.uuids(),
    completion_id=st.uuids().map(lambda u: u.hex),
    project=st.from_regex(r"[a-z][a-z0-9_.\-]{0,20}", fullmatch=True),
    model=st.text(PRINTABLE, min_size=1, max_size=40),
    started_at=st.just(START),
    time=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1),
                      timezones=st.just(UTC)),
    latency_ms=st.floats(min_value=0, max_value=1e7, allow_nan=False),
    input_tokens=st.integers(min_value=0, max_value=10**9),
    output_tokens=st.integers(min_value=0, max_value=10**9),
)  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
garbage = st.one_of(
    st.binary(min_size=1, max_size=200),
    json_values.map(orjson.dumps),
    st.dictionaries(st.sampled_from(["kind", "project", "model", "latency_ms", "time", "x"]),
                    json_values).map(lambda d: orjson.dumps({"kind": "completion", **d})),
).map(lambda line: line.replace(b"\n", b" ").strip() or b"?")  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_any_bytes_decode_without_raising(value: bytes) -> None:
    decoded = decode_envelope(value, kind="completion")
    assert len(decoded.events) + len(decoded.rejections) == decoded.line_count


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(completions, garbage), max_size=30))
def test_valid_neighbours_of_bad_lines_are_kept_in_order(lines: list[Completion | bytes]) -> None:
    value = b"\n".join(encode_event(x) if isinstance(x, Completion) else x for x in lines)
    decoded = decode_envelope(value, kind="completion")
    valid = [x for x in lines if isinstance(x, Completion)]
    kept = [e for e in decoded.events if isinstance(e, Completion)]
    # a garbage line may happen to be a valid completion; every real one is kept, in order
    assert [e.event_id for e in kept if e.event_id in {v.event_id for v in valid}] == [
        v.event_id for v in valid
    ]
    assert all(r.reason for r in decoded.rejections)
    assert len(decoded.events) + len(decoded.rejections) == decoded.line_count

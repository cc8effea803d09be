"""Envelopes: NDJSON of one kind; a plain JSON event is one too."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from meterstream_contracts import (
    TOPICS,
    Completion,
    MessageOrigin,
    MetricValue,
    MixedEnvelope,
    decode_envelope,
    pack_by_key,
    pack_envelope,
    split_envelope,
)
from meterstream_contracts.envelope import chunk_lines

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def completion(model: str, latency: float = 100.0, project: str = "p1") -> Completion:
    return Completion(project=project, model=model, started_at=NOW, latency_ms=latency)


def test_pack_and_decode_round_trip_keeps_order() -> None:
    events = [completion("m", latency=float(i)) for i in range(5)]
    decoded = decode_envelope(pack_envelope(events), kind="completion")
    assert decoded.events == events


def test_a_pretty_printed_single_event_is_one_envelope() -> None:
    plain = orjson.dumps(
        {"kind": "completion", "project": "p", "model": "m", "started_at": NOW, "latency_ms": 5},
        option=orjson.OPT_INDENT_2,
    )
    assert b"\n" in plain
    assert split_envelope(plain) == [plain]
    assert len(decode_envelope(plain, kind="completion").events) == 1


def test_blank_lines_and_crlf_are_tolerated() -> None:
    line = pack_envelope([completion("m")])
    assert (
        len(decode_envelope(b"\n" + line + b"\r\n\n" + line + b"\n", kind="completion").events) == 2
    )


def test_valid_neighbours_of_a_bad_event_are_kept() -> None:
    good = pack_envelope([completion("m")])
    value = b"\n".join([good, b"{not json", b"[1, 2]", good])
    decoded = decode_envelope(value, kind="completion")
    assert len(decoded.events) == 2
    assert [r.line for r in decoded.rejections] == [1, 2]
    assert "not valid JSON" in decoded.rejections[0].reason
    assert "expected a JSON object" in decoded.rejections[1].reason


def test_mixed_kinds_cannot_share_an_envelope() -> None:
    other = MetricValue(project="p1", completion_id="c", key="k", value=1)
    with pytest.raises(MixedEnvelope):
        pack_envelope([completion("m"), other])


def test_pack_by_key_groups_by_catalogue_key_and_respects_limits() -> None:
    events = [completion("a") for _ in range(7)] + [completion("b") for _ in range(2)]
    messages = pack_by_key(events, topic=TOPICS.for_kind("completion"), max_events=3)
    keys = [key for key, _ in messages]
    assert keys == [b"p1/a", b"p1/a", b"p1/a", b"p1/b"]
    assert [value.count(b"\n") + 1 for _, value in messages] == [3, 3, 1, 2]


def test_chunk_lines_respects_the_byte_limit() -> None:
    lines = [b"x" * 40] * 10
    chunks = chunk_lines(lines, max_events=100, max_bytes=100)
    assert all(len(chunk) <= 100 for chunk in chunks)
    assert sum(chunk.count(b"\n") + 1 for chunk in chunks) == 10


def test_origin_gives_missing_ids_and_times_that_replay_identically() -> None:
    value = b'{"project":"p","model":"m","started_at":"2026-11-20T10:00:00Z","latency_ms":1}'
    origin = MessageOrigin("t", 3, 42, timestamp_ms=1_763_632_800_000)
    first = decode_envelope(value, kind="completion", origin=origin).events[0]
    replay = decode_envelope(value, kind="completion", origin=origin).events[0]
    elsewhere = MessageOrigin("t", 3, 43, timestamp_ms=1_763_632_800_000)
    moved = decode_envelope(value, kind="completion", origin=elsewhere).events[0]
    assert first.event_id == replay.event_id != moved.event_id
    assert first.time == datetime.fromtimestamp(1_763_632_800, UTC)


def test_origin_never_overrides_what_the_producer_sent() -> None:
    event = completion("m")
    origin = MessageOrigin("t", 0, 0, timestamp_ms=0)
    decoded = decode_envelope(pack_envelope([event]), kind="completion", origin=origin).events[0]
    assert decoded.event_id == event.event_id
    assert decoded.time == event.time


def test_naive_timestamps_are_taken_as_utc() -> None:
    value = b'{"project":"p","model":"m","started_at":"2026-11-20T10:00:00","latency_ms":1}'
    event = decode_envelope(value, kind="completion").events[0]
    assert isinstance(event, Completion)
    assert event.started_at == NOW


@pytest.mark.parametrize(
    "written",
    [
        "2026-11-20T10:00:00.000250Z",
        "2026-11-20T12:00:00.000250+02:00",
        "2026-11-20T10:00:00.000250",
    ],
)
def test_every_timestamp_is_read_as_the_same_instant_in_utc(written: str) -> None:
    value = f'{{"project":"p","model":"m","started_at":"{written}","latency_ms":1}}'.encode()
    event = decode_envelope(value, kind="completion").events[0]
    assert isinstance(event, Completion)
    assert event.started_at.tzinfo is UTC
    assert event.started_at == NOW.replace(microsecond=250)

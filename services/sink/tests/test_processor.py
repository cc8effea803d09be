"""Envelopes → table rows and dead letters, driven by the canonical examples; no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from meterstream_contracts import EVENT_MODELS, TOPICS
from meterstream_contracts.examples import load_examples
from meterstream_contracts.fields import RetentionWindow
from meterstream_sink.batch import Batch, ConsumedMessage
from meterstream_sink.errors import DeadLetterLimitExceeded
from meterstream_sink.guard import DeadLetterGuard, DeadLetterLimits
from meterstream_sink.processor import (
    TableBatch,
    dedup_token,
    process_batch,
    revalidate,
)
from meterstream_warehouse import table_for_kind


def lenient_guard() -> DeadLetterGuard:
    return DeadLetterGuard(DeadLetterLimits(10_000, 1.0, 1))


def batch_of_all_examples(*, validated: bool = False) -> tuple[Batch, int, int]:
    batch = Batch()
    valid = invalid = 0
    for offset, kind in enumerate(sorted(EVENT_MODELS)):
        examples = load_examples(kind)
        lines = [*examples.valid, *(e.payload for e in examples.invalid)]
        valid += len(examples.valid)
        invalid += len(examples.invalid)
        topic = TOPICS.for_kind(kind).name
        value = b"\n".join(lines)
        batch.messages.append(
            ConsumedMessage(topic, 0, offset, 1_763_632_800_000, value, validated=validated)
        )
    return batch, valid, invalid


def test_valid_examples_become_rows_and_invalid_ones_dead_letters() -> None:
    batch, valid, invalid = batch_of_all_examples()
    processed = process_batch(batch, lenient_guard())
    assert processed.rows == valid
    assert len(processed.dead_letters) == invalid
    for kind in EVENT_MODELS:
        rows = processed.tables[table_for_kind(kind).name]
        stored = [orjson.loads(line) for line in rows.payload.splitlines()]
        assert len(stored) == rows.rows == len(load_examples(kind).valid)
        assert all(row["kind"] == kind for row in stored)
        assert all("event_id" in row and "time" in row for row in stored)


def test_validated_envelopes_pass_through_as_the_same_bytes() -> None:
    kind = "completion"
    value = b"\n".join(load_examples(kind).valid)
    topic = TOPICS.for_kind(kind).name
    batch = Batch(messages=[ConsumedMessage(topic, 1, 7, 0, value, validated=True)])
    processed = process_batch(batch, lenient_guard())
    rows = processed.tables["raw_completions"]
    assert rows.payload == value + b"\n"
    assert rows.rows == len(load_examples(kind).valid)
    assert processed.dead_letters == []


def test_revalidating_a_refused_batch_separates_poison_from_good_events() -> None:
    batch, valid, invalid = batch_of_all_examples(validated=True)
    processed = process_batch(batch, lenient_guard())
    assert processed.dead_letters == []
    total_good = total_bad = 0
    for rows in processed.tables.values():
        again, letters = revalidate(rows, rows.messages, lenient_guard())
        total_good += again.rows
        total_bad += len(letters)
        assert again.dedup_token == rows.dedup_token
    assert (total_good, total_bad) == (valid, invalid)


def test_dead_letters_keep_the_original_bytes_position_and_reason() -> None:
    batch, _, _ = batch_of_all_examples()
    letters = process_batch(batch, lenient_guard()).dead_letters
    invalid = {e.payload: e.field for k in EVENT_MODELS for e in load_examples(k).invalid}
    for letter in letters:
        assert letter.payload in invalid
        assert invalid[letter.payload].rsplit(".", 1)[-1] in letter.reason
        assert letter.line is not None
        assert letter.line >= 1


def test_offsets_cover_messages_with_only_invalid_events() -> None:
    topic = TOPICS.for_kind("completion").name
    batch = Batch(messages=[ConsumedMessage(topic, 2, 40, 0, b"{broken")])
    processed = process_batch(batch, lenient_guard())
    assert processed.tables == {}
    assert processed.offsets == {(topic, 2): 41}


def test_a_burst_of_invalid_events_trips_the_limit_across_messages() -> None:
    topic = TOPICS.for_kind("completion").name
    good = load_examples("completion").valid[0]
    guard = DeadLetterGuard(DeadLetterLimits(max_consecutive=5, max_ratio=1.0, ratio_min_events=1))
    calm = Batch(messages=[ConsumedMessage(topic, 0, 0, 0, b"\n".join([b"{x", good] * 4))])
    process_batch(calm, guard)
    burst = [ConsumedMessage(topic, 0, i, 0, b"{x\n{y\n{z") for i in range(1, 3)]
    with pytest.raises(DeadLetterLimitExceeded, match="6 consecutive invalid events"):
        process_batch(Batch(messages=burst), guard)


def test_a_batch_mostly_invalid_trips_the_ratio() -> None:
    topic = TOPICS.for_kind("completion").name
    good = load_examples("completion").valid[0]
    value = b"\n".join([b"{x", b"{y", good] * 10)
    guard = DeadLetterGuard(
        DeadLetterLimits(max_consecutive=99, max_ratio=0.5, ratio_min_events=10)
    )
    with pytest.raises(DeadLetterLimitExceeded, match="20 of 30 events"):
        process_batch(Batch(messages=[ConsumedMessage(topic, 0, 0, 0, value)]), guard)


def test_dedup_token_depends_on_offsets_not_on_order() -> None:
    a = dedup_token("t", {("x", 0): (1, 5), ("x", 1): (3, 3)})
    b = dedup_token("t", {("x", 1): (3, 3), ("x", 0): (1, 5)})
    assert a == b != dedup_token("t", {("x", 0): (1, 6), ("x", 1): (3, 3)})
    assert a != dedup_token("u", {("x", 0): (1, 5), ("x", 1): (3, 3)})


def test_table_batch_tracks_ranges_and_oldest_timestamp() -> None:
    rows = TableBatch("raw_completions", "completion")
    for offset, ts in [(9, 500), (3, 200), (5, 900)]:
        rows.note_message(ConsumedMessage("t", 0, offset, ts, b"{}"))
    assert rows.ranges == {("t", 0): (3, 9)}
    assert rows.oldest_timestamp_ms == 200


@pytest.mark.parametrize("validated", [True, False])
def test_events_older_than_the_raw_tables_keep_are_dead_lettered_saying_why(
    validated: bool,
) -> None:
    now = datetime(2026, 12, 5, tzinfo=UTC)
    retention = RetentionWindow(now - timedelta(days=90), 90)

    def completion(at: datetime) -> bytes:
        return orjson.dumps(
            {"kind": "completion", "project": "p", "model": "m", "started_at": at,
             "time": at, "latency_ms": 1.0}
        )  # fmt: skip

    recent, old = completion(now - timedelta(days=1)), completion(now - timedelta(days=91))
    topic = TOPICS.for_kind("completion").name
    message = ConsumedMessage(
        topic, 0, 3, 0, b"\n".join([recent, old, recent]), validated=validated
    )
    processed = process_batch(Batch(messages=[message]), lenient_guard(), retention)
    assert processed.tables["raw_completions"].rows == 2
    (letter,) = processed.dead_letters
    assert letter.line == 1
    assert "is older than the raw tables keep (90 days: from 2026-09-06T00:00:00Z)" in letter.reason
    assert orjson.loads(letter.payload)["time"].startswith("2026-09-05")
    # a validated envelope with only recent events keeps the fast path: its bytes as sent
    fresh = ConsumedMessage(topic, 0, 4, 0, recent, validated=True)
    again = process_batch(Batch(messages=[fresh]), lenient_guard(), retention)
    assert again.tables["raw_completions"].payload == recent + b"\n"

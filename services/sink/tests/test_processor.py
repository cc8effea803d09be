"""Envelopes → table rows and dead letters, driven by the canonical examples; no I/O."""

from __future__ import annotations

import orjson

from meterstream_contracts import EVENT_MODELS, TOPICS
from meterstream_contracts.examples import load_examples
from meterstream_sink.batch import Batch, ConsumedMessage
from meterstream_sink.processor import dedup_token, process_batch
from meterstream_warehouse import table_for_kind


def batch_of_all_examples() -> tuple[Batch, int, int]:
    batch = Batch()
    valid = invalid = 0
    for offset, kind in enumerate(sorted(EVENT_MODELS)):
        examples = load_examples(kind)
        lines = [*examples.valid, *(e.payload for e in examples.invalid)]
        valid += len(examples.valid)
        invalid += len(examples.invalid)
        topic = TOPICS.for_kind(kind).name
        batch.messages.append(
            ConsumedMessage(topic, 0, offset, 1_763_632_800_000, b"\n".join(lines))
        )
    return batch, valid, invalid


def test_valid_examples_become_rows_and_invalid_ones_dead_letters() -> None:
    batch, valid, invalid = batch_of_all_examples()
    processed = process_batch(batch)
    assert processed.rows == valid
    assert len(processed.dead_letters) == invalid
    for kind in EVENT_MODELS:
        rows = processed.tables[table_for_kind(kind).name]
        stored = [orjson.loads(line) for line in bytes(rows.payload).splitlines()]
        assert len(stored) == rows.rows == len(load_examples(kind).valid)
        assert all(row["kind"] == kind for row in stored)


def test_dead_letters_keep_the_original_bytes_position_and_reason() -> None:
    batch, _, _ = batch_of_all_examples()
    letters = process_batch(batch).dead_letters
    invalid = {e.payload: e.field for k in EVENT_MODELS for e in load_examples(k).invalid}
    for letter in letters:
        assert letter.payload in invalid
        assert invalid[letter.payload].rsplit(".", 1)[-1] in letter.reason
        assert (
            letter.source_topic.startswith("meterstream.raw.") or "registry" in letter.source_topic
        )
        assert letter.line is not None
        assert letter.line >= 1


def test_offsets_cover_messages_with_only_invalid_events() -> None:
    topic = TOPICS.for_kind("completion").name
    batch = Batch(messages=[ConsumedMessage(topic, 2, 40, 0, b"{broken")])
    processed = process_batch(batch)
    assert processed.tables == {}
    assert processed.offsets == {(topic, 2): 41}


def test_dedup_token_depends_on_offsets_not_on_order() -> None:
    a = dedup_token("t", {("x", 0): (1, 5), ("x", 1): (3, 3)})
    b = dedup_token("t", {("x", 1): (3, 3), ("x", 0): (1, 5)})
    assert a == b != dedup_token("t", {("x", 0): (1, 6), ("x", 1): (3, 3)})
    assert a != dedup_token("u", {("x", 0): (1, 5), ("x", 1): (3, 3)})

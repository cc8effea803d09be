"""The canonical examples drive the contract: valid ones pass, invalid ones name their field."""

from __future__ import annotations

import orjson
import pytest

from meterstream_contracts import EVENT_MODELS, TOPICS, decode_envelope, encode_event
from meterstream_contracts.examples import example_kinds, load_examples

KINDS = sorted(EVENT_MODELS)


def test_every_event_kind_has_examples_and_every_example_file_a_kind() -> None:
    assert example_kinds() == KINDS


@pytest.mark.parametrize("kind", KINDS)
def test_valid_examples_pass_and_survive_a_round_trip(kind: str) -> None:
    examples = load_examples(kind)
    assert examples.valid, f"{kind} needs at least one valid example"
    for payload in examples.valid:
        decoded = decode_envelope(payload, kind=kind)
        assert decoded.rejections == []
        (event,) = decoded.events
        again = decode_envelope(encode_event(event), kind=kind).events[0]
        assert again == event


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_examples_fail_with_an_error_naming_the_field(kind: str) -> None:
    examples = load_examples(kind)
    assert len(examples.invalid) >= 2, f"{kind} needs invalid examples"
    for example in examples.invalid:
        decoded = decode_envelope(example.payload, kind=kind)
        assert decoded.events == []
        (rejection,) = decoded.rejections
        assert example.field.rsplit(".", 1)[-1] in rejection.reason, rejection.reason


@pytest.mark.parametrize("kind", KINDS)
def test_an_event_of_another_kind_is_rejected_on_this_kinds_topic(kind: str) -> None:
    other = next(k for k in KINDS if k != kind)
    payload = load_examples(other).valid[0]
    decoded = decode_envelope(payload, kind=kind)
    assert decoded.events == []
    assert decoded.rejections


def test_booleans_are_stored_as_numbers_for_user_metrics() -> None:
    payload = load_examples("metric_value").valid[0]
    assert orjson.loads(payload)["value"] is True
    event = decode_envelope(payload, kind="metric_value").events[0]
    assert orjson.loads(encode_event(event))["value"] == 1.0


def test_every_raw_and_registry_topic_carries_an_event_kind_with_examples() -> None:
    assert sorted(spec.kind for spec in TOPICS.event_topics) == KINDS

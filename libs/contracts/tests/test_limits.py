"""Caps on names, labels and numbers give errors that name the field and the limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from meterstream_contracts import Completion, HistogramValue, InstrumentPoint, TrainingStep
from meterstream_contracts.errors import describe_validation_error
from meterstream_contracts.fields import (
    MAX_LABEL_KEY_CHARS,
    MAX_LABEL_VALUE_CHARS,
    MAX_LABELS,
    MAX_NAME_CHARS,
)

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def completion(**overrides: object) -> Completion:
    fields: dict[str, object] = {
        "project": "p",
        "model": "m",
        "started_at": NOW,
        "latency_ms": 10.0,
    }
    fields.update(overrides)
    return Completion.model_validate(fields)


def test_too_many_labels_names_the_limit() -> None:
    labels = {f"k{i}": "v" for i in range(MAX_LABELS + 1)}
    with pytest.raises(ValidationError, match=rf"labels[\s\S]*at most {MAX_LABELS} items"):
        completion(labels=labels)


def test_a_long_label_key_is_refused_and_quoted_short() -> None:
    with pytest.raises(ValidationError) as refused:
        completion(labels={"k" * 10_000: "v"})
    reason = describe_validation_error(refused.value)
    assert reason.startswith("labels." + "k" * 77 + "...")
    assert f"at most {MAX_LABEL_KEY_CHARS} characters" in reason
    assert len(reason) < 200


def test_label_values_and_empty_keys_are_refused_naming_the_label() -> None:
    with pytest.raises(ValidationError, match=rf"labels\.route\n.*at most {MAX_LABEL_VALUE_CHARS}"):
        completion(labels={"route": "v" * (MAX_LABEL_VALUE_CHARS + 1)})
    with pytest.raises(ValidationError, match="at least 1 character"):
        completion(labels={"": "v"})


def test_model_name_length_is_capped() -> None:
    with pytest.raises(ValidationError, match=rf"model[\s\S]*at most {MAX_NAME_CHARS}"):
        completion(model="m" * (MAX_NAME_CHARS + 1))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_metrics_are_rejected_naming_the_key(value: float) -> None:
    with pytest.raises(ValidationError, match=r"metrics\.train/loss"):
        TrainingStep(project="p", run_id="r", step=1, metrics={"train/loss": value})


def test_cache_reads_and_writes_together_cannot_exceed_input_tokens() -> None:
    message = "cached_tokens \\+ cache_creation_tokens must not exceed input_tokens"
    with pytest.raises(ValidationError, match=message):
        completion(input_tokens=10, cached_tokens=11)
    with pytest.raises(ValidationError, match=message):
        completion(input_tokens=10, cached_tokens=6, cache_creation_tokens=5)
    assert completion(input_tokens=10, cached_tokens=5, cache_creation_tokens=5).input_tokens == 10


def test_reasoning_tokens_cannot_exceed_output_tokens() -> None:
    with pytest.raises(ValidationError, match="reasoning_tokens must not exceed output_tokens"):
        completion(output_tokens=3, reasoning_tokens=4)


def test_histogram_counts_must_match_bounds_and_count() -> None:
    with pytest.raises(ValidationError, match="count 5 differs from sum"):
        HistogramValue(bounds=[1.0], counts=[1, 2], count=5)
    with pytest.raises(ValidationError, match="strictly increasing"):
        HistogramValue(bounds=[2.0, 1.0], counts=[0, 0, 0], count=0)


def test_gauge_may_be_negative_but_a_counter_may_not() -> None:
    InstrumentPoint(project="p", name="g", instrument="gauge", value=-1.0)
    with pytest.raises(ValidationError, match="counter value must not be negative"):
        InstrumentPoint(project="p", name="c", instrument="counter", value=-1.0)


def test_generated_event_ids_are_version_4_and_distinct() -> None:
    from meterstream_contracts.fields import new_uuid

    ids = [new_uuid() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(i.version == 4 and i.variant == "specified in RFC 4122" for i in ids)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("time", "9999-12-31T23:59:59Z"),  # acknowledged, then dropped by the TTL, before
        ("time", "0001-01-01T00:00:00Z"),
        ("started_at", "1999-12-31T23:59:59Z"),
        ("time", "2100-01-01T00:00:00Z"),
    ],
)
def test_times_the_store_cannot_keep_are_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(
        ValidationError, match=rf"{field}[\s\S]*from 2000-01-01 to before 2100-01-01"
    ):
        Completion.model_validate(
            {
                "project": "p",
                "model": "m",
                "latency_ms": 1.0,
                "started_at": "2026-01-01T00:00:00Z",
                "time": "2026-01-01T00:00:01Z",
                field: value,
            }
        )


def test_the_edges_of_the_range_the_store_keeps() -> None:
    low = completion(started_at=datetime(2000, 1, 1, tzinfo=UTC))
    high = completion(time=datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
    assert (low.started_at.year, high.time.year) == (2000, 2099)

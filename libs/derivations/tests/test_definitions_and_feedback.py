"""Metric definitions, safe expressions, feedback partials and the training join. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterstream_contracts import (
    GraderScore,
    MetricValue,
    Preference,
)
from meterstream_derivations.definitions import DefinitionSet, InvalidDefinition, compile_definition
from meterstream_derivations.expressions import InvalidExpression, compile_expression
from meterstream_derivations.feedback import (
    Feedback,
    FeedbackEvent,
    KeyInfo,
    build_feedback_partials,
)

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
COMPLETION = {
    "kind": "completion",
    "project": "p",
    "event_id": "e1",
    "time": "2026-11-20T10:00:00Z",
    "completion_id": "c1",
    "model": "m",
    "latency_ms": 1200.0,
    "ttft_ms": 200.0,
    "input_tokens": 300,
    "output_tokens": 1500,
}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("latency_ms >", "not a valid expression"),
        ("__import__('os').system('true')", "unknown name '__import__'"),
        ("(1).__class__", "__class__"),
        ("secret_field * 2", "unknown name 'secret_field'"),
        ("model", "must yield a number or a bool"),
        ("latency_ms / (input_tokens - input_tokens)", "fails on a completion example"),
    ],
)
def test_bad_expressions_are_rejected_at_creation_with_the_reason(text: str, names: str) -> None:
    with pytest.raises(InvalidExpression, match="expression") as error:
        compile_expression(text, "completion")
    assert names in str(error.value)


def test_expressions_see_fields_and_helpers() -> None:
    assert compile_expression("output_tokens > 1000", "completion").evaluate(COMPLETION) == 1.0
    rate = compile_expression("round(output_tokens_per_s)", "completion").evaluate(COMPLETION)
    assert rate == 1500.0  # 1500 tokens over (1200 - 200) ms
    labels = compile_expression("len(labels)", "completion").evaluate(COMPLETION)
    assert labels == 0.0  # a field the record left out takes the contract's default


def test_definitions_yield_custom_metric_values_with_stable_ids() -> None:
    definitions = DefinitionSet()
    definitions.apply(
        {
            "project": "p",
            "definition_id": "long",
            "name": "long_answer",
            "definition_type": "custom",
            "expression": "output_tokens > 1000",
        }
    )
    definitions.apply(
        {
            "project": "p",
            "definition_id": "speed",
            "name": "speed",
            "definition_type": "predefined",
            "predefined": "output_tokens_per_s",
        }
    )
    definitions.apply(
        {
            "project": "p",
            "definition_id": "off",
            "name": "off",
            "definition_type": "predefined",
            "predefined": "error",
            "active": False,
        }
    )
    definitions.apply(
        {
            "project": "p",
            "definition_id": "judge",
            "name": "helpful",
            "definition_type": "judge",
            "grader_key": "helpfulness",
            "applies_to": "grader_score",
        }
    )
    results = definitions.evaluate("completion", COMPLETION)
    assert {(r["key"], r["value"], r["category"]) for r in results} == {
        ("long_answer", 1.0, "custom"),
        ("speed", 1500.0, "custom"),
    }
    assert results == definitions.evaluate("completion", COMPLETION)  # same ids on a replay
    MetricValue.model_validate(results[0])
    grader = {
        "kind": "grader_score",
        "project": "p",
        "event_id": "g",
        "time": "2026-11-20T10:00:00Z",
        "completion_id": "c1",
        "key": "helpfulness",
        "value": 0.75,
    }
    assert [r["value"] for r in definitions.evaluate("grader_score", grader)] == [0.75]
    definitions.apply({"project": "p", "definition_id": "long", "deleted": True})
    assert {r["key"] for r in definitions.evaluate("completion", COMPLETION)} == {"speed"}
    assert definitions.evaluate("completion", {**COMPLETION, "project": "other"}) == []


def test_unknown_predefined_metrics_are_named() -> None:
    with pytest.raises(InvalidDefinition, match="predefined: unknown metric 'nope'"):
        compile_definition(
            {
                "project": "p",
                "definition_id": "x",
                "name": "x",
                "definition_type": "predefined",
                "predefined": "nope",
            }
        )


def test_feedback_partials_count_means_true_rates_and_preferences() -> None:
    events: list[FeedbackEvent] = [
        MetricValue(
            project="p", completion_id="c", key="thumbs", value=v, time=T0 + timedelta(seconds=i)
        )
        for i, v in enumerate([1.0, 0.0, 1.0, 1.0])
    ]
    events += [
        GraderScore(
            project="p",
            completion_id="c",
            grader_name="g",
            grader_type="judge",
            key="correct",
            value=0.5,
            passed=True,
            time=T0,
        ),
        GraderScore(
            project="p",
            completion_id="c",
            grader_name="g",
            grader_type="judge",
            key="correct",
            value=0.1,
            passed=False,
            time=T0,
        ),
        Preference(
            project="p", key="pref", preferred_completion_id="a", other_completion_id="b", time=T0
        ),
    ]
    info: dict[tuple[str, str], KeyInfo] = {("p", "thumbs"): ("higher_is_better", "bool")}
    partials = build_feedback_partials(
        [Feedback.of(event) for event in events],
        windows=(60,),
        partial_id="0:1",
        key_info=lambda p, k: info.get((p, k)),
    )
    by_key = {p.key: p for p in partials}
    thumbs = by_key["thumbs"]
    assert (thumbs.count, thumbs.total, thumbs.true_count, thumbs.value_kind) == (4, 3.0, 3, "bool")
    assert (thumbs.min, thumbs.max, thumbs.scoring) == (0.0, 1.0, "higher_is_better")
    assert (by_key["correct"].count, by_key["correct"].true_count) == (2, 1)
    assert by_key["correct"].total == pytest.approx(0.6)
    assert (by_key["pref"].source, by_key["pref"].count) == ("preference", 1)

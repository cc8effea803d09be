"""Rules, their evaluation per group, and the dispatcher's decisions. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from meterstream_alerting.engine import RuleEngine, dispatch_decision
from meterstream_alerting.managed import AlertBook, managed_rule, managed_silence
from meterstream_alerting.rules import InvalidRules, RuleFile, parse_rules, shipped_rules

T0 = datetime(2026, 11, 22, 10, tzinfo=UTC)
WINDOWS = "meterstream.derived.inference_windows"


def window(second: int, **fields: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "kind": "inference_window",
        "project": "p",
        "model": "m",
        "window_start": (T0 + timedelta(seconds=second)).isoformat(),
        "window_seconds": 10,
        "count": 100,
        "errors": {},
    }
    record.update(fields)
    return record


def run(
    engine: RuleEngine, topic: str, records: list[dict[str, Any]], appended: float = 0.0
) -> list[Any]:
    """Records one by one through the engine with an in-memory table."""
    table: dict[str, Any] = getattr(engine, "_test_table", {})
    engine._test_table = table  # type: ignore[attr-defined]
    alerts = []
    for record in records:
        found, changed = engine.apply(topic, [record], appended, table.get)
        table.update({k: s.state() for k, s in changed.items()})
        alerts.extend(found)
    return alerts


def test_invalid_rules_name_the_field() -> None:
    with pytest.raises(InvalidRules) as error:
        parse_rules(
            {
                "rules": [
                    {"id": "a", "source": "inference_windows", "metric": "p95"},
                    {"id": "b", "source": "nowhere"},
                    {"id": "c", "source": "usage_totals", "comparator": "!="},
                    {"id": "d", "source": "usage_totals", "for_s": -1},
                ]
            }
        )
    text = str(error.value)
    assert "rules.0.metric: Value error, 'p95' is not on inference_windows" in text
    assert "rules.1.source" in text
    assert "rules.2.comparator" in text
    assert "rules.3.for_s" in text
    assert error.value.fields == ("rules.0.metric", "rules.1.source", "rules.2.comparator",
                                  "rules.3.for_s")  # fmt: skip


def test_the_shipped_examples_load() -> None:
    ids = [rule.id for rule in shipped_rules().rules]
    assert ids == [
        "p95-latency-slo",
        "error-rate",
        "cost-burn",
        "ttft-drift",
        "reward-collapse",
        "producer-silent",
        "unpriced-calls",
    ]


def only(rule_id: str) -> RuleEngine:
    rules = shipped_rules()
    return RuleEngine(
        rules.model_copy(update={"rules": [r for r in rules.rules if r.id == rule_id]})
    )


def test_p95_over_the_slo_fires_after_its_for_duration_and_resolves() -> None:
    engine = only("p95-latency-slo")  # > 3000 ms for 10 s, windows of >= 20 calls
    alerts = run(
        engine,
        WINDOWS,
        [
            window(0, latency_p95_ms=3500.0),  # pending from t+10
            window(0, latency_p95_ms=3600.0),  # a later revision of the same window
            window(10, latency_p95_ms=3100.0, count=5),  # too few calls: not judged
            window(10, latency_p95_ms=3200.0),  # held 10 s: fires
            window(20, latency_p95_ms=3300.0),
            window(30, latency_p95_ms=900.0),  # clears: resolves
        ],
    )
    assert [(a.state, a.value) for a in alerts] == [("firing", 3200.0), ("resolved", 900.0)]
    assert (
        alerts[0].dedup_key
        == alerts[1].dedup_key
        == f"p95-latency-slo|model=m/project=p|{(T0 + timedelta(seconds=10)).timestamp():.3f}"
    )
    assert alerts[0].severity == "critical"
    assert alerts[0].group == {"project": "p", "model": "m"}
    # the same records again (a consumer reset) give the same keys
    replay = run(
        only("p95-latency-slo"),
        WINDOWS,
        [window(0, latency_p95_ms=3500.0), window(10, latency_p95_ms=3200.0)],
    )
    assert [a.dedup_key for a in replay] == [alerts[0].dedup_key]


def test_error_rate_and_drift_and_reward_collapse() -> None:
    errors = run(
        only("error-rate"),
        WINDOWS,
        [
            {**window(0, errors={"error": 10}), "window_seconds": 60},
            {**window(60, errors={"error": 9}), "window_seconds": 60},  # 9% for 60 s: fires
            {**window(120, errors={"error": 1}), "window_seconds": 60},
        ],
    )
    assert [a.state for a in errors] == ["firing", "resolved"]

    drift = run(
        only("ttft-drift"),
        WINDOWS,
        [window(10 * i, ttft_p50_ms=200.0 + i % 3) for i in range(20)]
        + [window(200, ttft_p50_ms=450.0), window(210, ttft_p50_ms=205.0)],
    )
    assert [a.state for a in drift] == ["firing", "resolved"]

    history = "meterstream.derived.training_history"
    steps = [
        {"project": "p", "run_id": "r", "step": i, "metrics": {"train/reward": 0.8}}
        for i in range(10)
    ]
    steps.append({"project": "p", "run_id": "r", "step": 10, "metrics": {"train/reward": 0.1}})
    collapse = [
        run(only("reward-collapse"), history, [s], appended=1000.0 + i) for i, s in enumerate(steps)
    ]
    assert [a.state for batch in collapse for a in batch] == []  # one engine per call: no baseline
    engine = only("reward-collapse")
    fired = [a for i, s in enumerate(steps) for a in run(engine, history, [s], appended=1000.0 + i)]
    assert [(a.state, a.group) for a in fired] == [("firing", {"project": "p", "run_id": "r"})]


def test_cost_burn_is_a_rate_per_hour_of_the_project_total() -> None:
    totals = "meterstream.derived.usage_totals"

    def total(minute: int, usd: float, model: str = "") -> dict[str, Any]:
        through = (T0 + timedelta(minutes=minute)).isoformat()
        return {"project": "p", "model": model, "through": through, "cost_usd": usd, "count": 1}

    alerts = run(
        only("cost-burn"),
        totals,
        [total(0, 1.0), total(1, 1.5, model="m"), total(1, 1.5), total(2, 3.0), total(3, 3.1)],
    )
    # 0.5 USD/min = 30 USD/h (no), then 1.5 USD/min = 90 USD/h (fires), then 6 USD/h (resolves)
    assert [a.state for a in alerts] == ["firing", "resolved"]


def test_absence_is_reported_once_and_resolved_by_the_next_record() -> None:
    engine = only("producer-silent")
    run(engine, WINDOWS, [window(0)])
    seen_at = (T0 + timedelta(seconds=10)).timestamp()
    assert engine.silent_groups(seen_at + 60) == []
    silent = engine.silent_groups(seen_at + 121)
    assert [a.state for a in silent] == ["firing"]
    assert engine.silent_groups(seen_at + 122) == []  # reported once
    back = run(engine, WINDOWS, [window(300)])
    assert [(a.state, a.dedup_key) for a in back] == [("resolved", silent[0].dedup_key)]


def test_after_a_rebalance_only_recovered_groups_are_watched_for_absence() -> None:
    engine = only("producer-silent")
    run(engine, WINDOWS, [window(0)])
    seen_at = (T0 + timedelta(seconds=10)).timestamp()
    (key,) = [f"{rule}|{group}" for rule, group in engine.last_seen]
    engine.forget_groups()  # the group's partition went to another worker
    assert engine.silent_groups(seen_at + 121) == []
    engine.recover(key, {"last_at": seen_at})  # and came back
    assert [a.state for a in engine.silent_groups(seen_at + 121)] == ["firing"]


def test_the_dispatcher_notifies_each_transition_once_and_honours_silences() -> None:
    engine = only("p95-latency-slo")
    firing, resolved = run(
        engine,
        WINDOWS,
        [
            window(0, latency_p95_ms=4000.0),
            window(10, latency_p95_ms=4000.0),
            window(20, latency_p95_ms=10.0),
        ],
    )
    sent: dict[str, bool] = {}
    rules = engine.rules
    assert dispatch_decision(resolved, sent.get, rules.silences) == "never_announced"
    assert dispatch_decision(firing, sent.get, rules.silences) == "notify"
    sent[f"{firing.dedup_key}:firing"] = True
    assert dispatch_decision(firing, sent.get, rules.silences) == "already_sent"
    assert dispatch_decision(resolved, sent.get, rules.silences) == "notify"
    silenced = parse_rules(
        {
            "rules": [r.model_dump() for r in rules.rules],
            "silences": [
                {
                    "rule": "p95-latency-slo",
                    "matchers": {"model": "m"},
                    "until": (T0 + timedelta(hours=1)).isoformat(),
                }
            ],
        }
    )
    nothing_sent: dict[str, bool] = {}
    assert dispatch_decision(firing, nothing_sent.get, silenced.silences) == "silenced"
    expired = parse_rules({"rules": [], "silences": [{"until": T0.isoformat()}]})
    assert dispatch_decision(firing, nothing_sent.get, expired.silences) == "notify"


# A project's own rules and silences (alert_config records) over the rule file.

SLOW = {"source": "inference_windows", "window_seconds": 10, "metric": "latency_p95_ms",
        "threshold": 1000, "min_count": 1}  # fmt: skip


def record(item: str, item_id: str, spec: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"project": "p", "item": item, "item_id": item_id, "spec": spec, **extra}


def test_a_project_rule_reads_its_own_groups_under_a_qualified_id() -> None:
    rule = managed_rule("p", "slow", {**SLOW, "where": {"project": "q", "model": "m"}})
    assert rule.id == "p:slow"
    assert rule.where == {"project": "p", "model": "m"}
    with pytest.raises(InvalidRules) as error:
        managed_rule("p", "slow", {**SLOW, "threshold": "high"})
    assert error.value.fields == ("threshold",)
    silence = managed_silence("p", "s1", {"rule": "slow", "until": T0.isoformat()})
    assert (silence.rule, silence.matchers) == ("p:slow", {"project": "p"})


def test_rules_added_and_deleted_at_run_time_are_evaluated_from_then_on() -> None:
    book = AlertBook(RuleFile())
    engine = RuleEngine(RuleFile())
    assert run(engine, WINDOWS, [window(0, latency_p95_ms=2000.0)]) == []
    assert book.apply(record("rule", "slow", SLOW))
    engine.set_rules(book.rules)
    fired = run(engine, WINDOWS, [window(10, latency_p95_ms=2000.0)])
    other = run(engine, WINDOWS, [window(10, project="q", latency_p95_ms=2000.0)])
    assert [(a.rule_id, a.state) for a in fired] == [("p:slow", "firing")]
    assert other == []  # another project's groups are not the rule's
    assert not book.apply(record("rule", "slow", {**SLOW, "metric": "nope"}))  # ignored
    assert [r.threshold for r in book.rules] == [1000]
    assert book.apply(record("rule", "slow", {}, deleted=True))
    engine.set_rules(book.rules)
    assert run(engine, WINDOWS, [window(20, latency_p95_ms=10.0)]) == []

    until = (T0 + timedelta(hours=1)).isoformat()
    book.apply(record("silence", "s1", {"matchers": {"model": "m"}, "until": until}))
    nothing_sent: dict[str, bool] = {}
    assert dispatch_decision(fired[0], nothing_sent.get, book.silences) == "silenced"
    book.apply(record("silence", "s1", {}, deleted=True))
    assert dispatch_decision(fired[0], nothing_sent.get, book.silences) == "notify"

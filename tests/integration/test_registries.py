"""Metric definitions and re-pricing against the real broker and a running worker."""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from meterstream_cli import registry_ops as ops
from meterstream_contracts import TOPICS, Completion, ModelPrice, split_envelope
from meterstream_contracts.derived import CostEntry, UsageTotals
from meterstream_kafka import KafkaConfig, apply_topics, end_offsets, start_group_at_end
from tests.integration.kafka_io import read_from
from tests.integration.test_workers import start_worker
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

WATCHED = [
    "meterstream.derived.usage_totals",
    "meterstream.derived.cost_ledger",
    TOPICS.for_kind("metric_value").name,
]


def price(model: str, prompt: float) -> ModelPrice:
    return ModelPrice(
        project="pricing",
        provider="acme",
        model=model,
        effective_from=date(2020, 1, 1),
        prompt_per_million=prompt,
        completion_per_million=1.0,
    )


def lines(values: list[bytes], kind: str, project: str) -> list[dict[str, object]]:
    records = (orjson.loads(line) for value in values for line in split_envelope(value))
    return [r for r in records if r.get("kind") == kind and r.get("project") == project]


def project_total(values: list[bytes], project: str) -> UsageTotals | None:
    totals = [
        UsageTotals.model_validate(r)
        for r in lines(values, "usage_totals", project)
        if r["model"] == ""
    ]
    return max(totals, key=lambda t: t.revision, default=None)


def test_definitions_and_repricing_flow_through_the_workers(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str
) -> None:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    model = f"m-{uuid.uuid4().hex[:6]}"
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    asyncio.run(ops.set_price(kafka_config, price(model, prompt=2.0)))
    with pytest.raises(ops.RegistryError, match="definition 1: expression: unknown name 'nope'"):
        asyncio.run(
            ops.put_definitions(
                kafka_config,
                [
                    {
                        "project": project_name,
                        "definition_id": "ok",
                        "name": "ok",
                        "definition_type": "predefined",
                        "predefined": "total_tokens",
                    },
                    {
                        "project": project_name,
                        "definition_id": "bad",
                        "name": "bad",
                        "definition_type": "custom",
                        "expression": "nope > 1",
                    },
                ],
            )
        )
    assert asyncio.run(ops.definitions(kafka_config, project_name)) == {}  # none published
    asyncio.run(
        ops.put_definitions(
            kafka_config,
            [
                {
                    "project": project_name,
                    "definition_id": "long",
                    "name": "long_answer",
                    "definition_type": "custom",
                    "expression": "output_tokens > 100",
                }
            ],
        )
    )
    start = asyncio.run(end_offsets(kafka_config, WATCHED))
    now = datetime.now(UTC) - timedelta(seconds=30)
    calls = [
        Completion(
            project=project_name,
            model=model,
            provider="acme",
            time=now,
            started_at=now,
            latency_ms=50.0,
            input_tokens=1000,
            output_tokens=50 + 10 * i,
        )
        for i in range(40)
    ]
    asyncio.run(publish(kafka_config, list(calls), per_envelope=10))
    worker = start_worker(kafka_config, app_id, tmp_path / "w.log")
    try:
        old_cost = sum(1000 * 2.0 + c.output_tokens * 1.0 for c in calls) / 1e6

        def priced(values: list[bytes], cost: float) -> bool:
            total = project_total(values, project_name)
            return total is not None and total.count == 40 and math.isclose(total.cost_usd, cost)

        values = asyncio.run(
            read_from(kafka_config, start, until=lambda v: priced(v, old_cost), within_s=90)
        )
        assert priced(values, old_cost), worker.tail()
        results = lines(values, "metric_value", project_name)
        ids = [r["event_id"] for r in results]
        assert len(set(ids)) == 40, (len(ids), len(set(ids)))  # every completion once
        assert sum(float(str(r["value"])) for r in results) == sum(
            c.output_tokens > 100 for c in calls
        )
        assert {r["category"] for r in results} == {"custom"}

        asyncio.run(ops.set_price(kafka_config, price(model, prompt=5.0)))
        report = asyncio.run(ops.reprice(kafka_config, windows=(10, 60), only={"model": model}))
        new_cost = sum(1000 * 5.0 + c.output_tokens * 1.0 for c in calls) / 1e6
        assert report.delta_usd == pytest.approx(new_cost - old_cost)
        again = asyncio.run(ops.reprice(kafka_config, windows=(10, 60), only={"model": model}))
        assert again.plan.ledger == []  # already at today's prices

        values = asyncio.run(
            read_from(kafka_config, start, until=lambda v: priced(v, new_cost), within_s=60)
        )
        assert priced(values, new_cost)
        ledger = [CostEntry.model_validate(r) for r in lines(values, "cost_entry", project_name)]
        assert sum(e.cost_usd for e in ledger) == pytest.approx(new_cost)
        by_version: dict[str, int] = {}
        for entry in ledger:
            by_version[entry.price_version] = by_version.get(entry.price_version, 0) + entry.count
        assert sorted(by_version.values()) == [0, 40]  # the old version reversed, the new charged
    finally:
        worker.stop()

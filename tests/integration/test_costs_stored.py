"""Costs to the cent through the real pipeline: provider responses measured by the SDK's
completion wrapper, published to the broker, priced by a worker process and stored by a
sink process in ClickHouse cost what genai-prices computes; reconcile agrees, and a model
no price is known for is reported, not stored as a silent 0 USD."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from meterstream_contracts import Event
from meterstream_kafka import KafkaConfig, start_group_at_end
from meterstream_query import unpriced_report
from meterstream_query.reconcile import check_api_costs, check_costs
from meterstream_query.timerange import TimeRange
from tests.helpers import ServerStore
from tests.integration.test_workers import start_worker
from tests.oracle.price_cases import CASES
from tests.oracle.test_price_oracle import oracle, spent, tracked
from tests.reliability.sink_harness import SinkHarness, publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

UNKNOWN = "acme-finetune-7"


def test_stored_costs_equal_the_catalogues_and_reconcile(
    kafka_config: KafkaConfig, tmp_path: Path, project_name: str, server_store: ServerStore
) -> None:
    # at a recent hour, inside the raw tables' retention whenever the test runs; the
    # oracle prices each at that hour (the dated history is checked apart, without I/O)
    recent = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    cases = [replace(case, at=recent) for case in CASES if "history" not in case.tags]
    events = [tracked(case).model_copy(update={"project": project_name}) for case in cases]
    unknown = tracked(cases[1]).model_copy(update={"project": project_name, "model": UNKNOWN})
    expected: dict[str, float] = defaultdict(float)
    for case in cases:
        expected[case.model] += float(oracle(case).total_price)
    expected[UNKNOWN] = 0.0
    spend = [spent(case, project_name)[1] for case in cases[::4]]  # judges' spend, priced alike

    harness = SinkHarness(kafka_config, tmp_path, server_store.env)
    asyncio.run(harness.prepare())
    app_id = f"costs-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    worker = start_worker(kafka_config, app_id, tmp_path / "worker.log")
    sink = harness.start("sink")
    store = server_store.warehouse
    try:
        asyncio.run(publish(kafka_config, [*events, unknown], per_envelope=8))
        asyncio.run(publish(kafka_config, list[Event](spend), per_envelope=4))
        deadline = time.monotonic() + 120
        while True:
            (row,) = store.query_rows(
                "SELECT sum(count) AS n FROM cost_ledger FINAL WHERE project = {p:String}",
                params={"p": project_name},
            )
            if int(row["n"] or 0) == len(events) + 1 + len(spend):
                break
            assert time.monotonic() < deadline, f"{row}\n{worker.tail()}\n{sink.tail()}"
            time.sleep(0.5)
    finally:
        worker.stop()
        sink.stop()

    stored = {
        str(row["model"]): float(row["cost"])
        for row in store.query_rows(
            "SELECT model, sum(cost_usd) AS cost FROM cost_ledger FINAL"
            " WHERE project = {p:String} AND cost_kind = 'completion' GROUP BY model",
            params={"p": project_name},
        )
    }
    assert stored.keys() == expected.keys()
    for model, cost in expected.items():
        assert stored[model] == pytest.approx(cost, abs=1e-9), model
    sources = store.query_rows(
        "SELECT cost_source, sum(count) AS n, sum(reported_cost_usd) AS reported"
        " FROM cost_ledger FINAL WHERE project = {p:String} GROUP BY cost_source",
        params={"p": project_name},
    )
    by_source = {str(r["cost_source"]): (int(r["n"]), float(r["reported"])) for r in sources}
    reported = sum(case.reported_usd or 0.0 for case in cases)
    reported += sum(event.cost_usd or 0.0 for event in spend)
    assert by_source["catalogue"][0] == len(events) + len(spend)
    assert by_source["catalogue"][1] == pytest.approx(reported)
    assert by_source["unpriced"] == (1, 0.0)

    costs = check_costs(store, project_name)
    assert costs.ok, costs.differences
    assert costs.compared == len(expected)
    api = check_api_costs(store, project_name)
    assert api.ok, api.differences
    assert api.compared == len({event.model for event in spend})
    (line,) = unpriced_report(store, project=project_name, time_range=TimeRange.last("90d"))
    assert (line["model"], line["calls"]) == (UNKNOWN, 1)
    (window,) = store.query_rows(
        "SELECT sum(unpriced) AS n FROM inference_windows FINAL"
        " WHERE project = {p:String} AND window_seconds = 60 AND model = {m:String}",
        params={"p": project_name, "m": UNKNOWN},
    )
    assert int(window["n"]) == 1

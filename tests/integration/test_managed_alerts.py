"""Rules and silences a project manages over HTTP, applied by a running worker on the real
broker: the rule fires for the project's own groups only, a silence holds back its
notifications (the alert is still published), a bad rule is refused naming the field."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from fastapi.testclient import TestClient

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_contracts import TOPICS, Event, split_envelope
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig, apply_topics, read_topics, start_group_at_end
from meterstream_warehouse import Warehouse
from tests.integration.test_alert_examples import window_calls
from tests.integration.test_alerts import start
from tests.integration.webhook_receiver import Receiver
from tests.reliability.sink_harness import publish

pytestmark = [pytest.mark.kafka, pytest.mark.clickhouse, pytest.mark.slow]

KEY = "ms_managed-alerts-key"
SLOW = {
    "source": "inference_windows",
    "window_seconds": 10,
    "metric": "latency_p95_ms",
    "threshold": 500,
    "min_count": 10,
    "severity": "critical",
}


@pytest.fixture
def api(
    any_warehouse: Warehouse, kafka_config: KafkaConfig, project_name: str
) -> Iterator[TestClient]:
    asyncio.run(apply_topics(kafka_config, TOPICS))
    config = ApiConfig(api_keys=f"{project_name}:{hash_key(KEY)}")
    with TestClient(create_app(config, any_warehouse, kafka_config)) as client:
        client.headers["Authorization"] = f"Bearer {KEY}"
        yield client


def test_a_bad_rule_is_refused_naming_the_field_and_nothing_is_published(
    api: TestClient, project_name: str
) -> None:
    answer = api.put("/api/v1/alert-rules/slow", json={**SLOW, "metric": "latency_p97_ms"})
    assert (answer.status_code, answer.json()["field"]) == (400, "metric")
    assert "latency_p97_ms" in answer.json()["detail"]
    answer = api.put("/api/v1/alert-rules/slow", json={**SLOW, "for_s": -1})
    assert (answer.status_code, answer.json()["field"]) == (400, "for_s")
    assert api.get("/api/v1/alert-rules").json() == {"rules": []}
    assert api.delete("/api/v1/alert-rules/never-made").status_code == 404
    other = api.get("/api/v1/alert-rules", params={"project": "someone-else"})
    assert other.status_code == 403


def test_a_rule_and_a_silence_added_over_http_apply_while_the_worker_runs(
    api: TestClient, kafka_config: KafkaConfig, tmp_path: Path, project_name: str,
    webhook: Receiver,
) -> None:  # fmt: skip
    empty = tmp_path / "rules.yaml"
    empty.write_text(yaml.safe_dump({"rules": []}))
    url = f"http://127.0.0.1:{webhook.server_address[1]}/hook"
    app_id = f"workers-{uuid.uuid4().hex[:8]}"
    asyncio.run(start_group_at_end(kafka_config, app_id))
    alerts_before = len(asyncio.run(read_topics(kafka_config, ["meterstream.alerts"])))
    worker = start(kafka_config, app_id, tmp_path, empty, url, n=1)
    other_project = f"{project_name}-other"
    try:
        assert api.put("/api/v1/alert-rules/slow", json=SLOW).status_code == 200
        silence = api.post(
            "/api/v1/silences", json={"rule": "slow", "matchers": {"model": "quiet"}, "for_s": 600}
        )
        assert silence.status_code == 201
        listed = api.get("/api/v1/alert-rules").json()["rules"]
        assert [(r["id"], r["spec"]["threshold"]) for r in listed] == [("slow", 500)]
        time.sleep(2)  # the worker follows the registry
        base = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        base -= timedelta(seconds=base.timestamp() % 10)
        events: list[Event] = []
        for n in range(6):  # slow in windows 1 and 2, fast around them
            at = base + timedelta(seconds=10 * n)
            latency = 900.0 if n in (1, 2) else 100.0
            for project, model in ((project_name, "loud"), (project_name, "quiet"),
                                   (other_project, "loud")):  # fmt: skip
                events += window_calls(project, model, at, latency=latency, count=20)
        asyncio.run(publish(kafka_config, events, per_envelope=20))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(webhook.calls) < 2:
            time.sleep(0.5)
        time.sleep(3)  # anything else that would be notified has had its chance
    finally:
        worker.stop()
    notified = [(body["rule_id"], body["state"], body["group"]) for _, body in webhook.calls]
    loud = {"project": project_name, "model": "loud"}
    assert notified == [
        (f"{project_name}:slow", "firing", loud),
        (f"{project_name}:slow", "resolved", loud),
    ], worker.tail()
    published = [
        orjson.loads(line)
        for message in asyncio.run(read_topics(kafka_config, ["meterstream.alerts"]))[
            alerts_before:
        ]
        for line in split_envelope(message.value)
    ]
    quiet = [a["state"] for a in published if a["group"].get("model") == "quiet"
             and a["group"].get("project") == project_name]  # fmt: skip
    assert quiet[:2] == ["firing", "resolved"]  # recorded, not notified
    assert not [a for a in published if a["group"].get("project") == other_project]
    silences = api.get("/api/v1/silences").json()["silences"]
    assert [s["id"] for s in silences] == [silence.json()["id"]]
    assert api.delete(f"/api/v1/silences/{silence.json()['id']}").status_code == 204
    assert api.delete("/api/v1/alert-rules/slow").status_code == 204
    assert api.get("/api/v1/alert-rules").json() == {"rules": []}

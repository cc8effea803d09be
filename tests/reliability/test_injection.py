"""SQL injection payloads in every query parameter of the HTTP API, on a real ClickHouse
engine: each is answered (never 500), nothing of another project comes back, and the
store is unchanged afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_contracts.api_keys import hash_key
from meterstream_warehouse import Warehouse
from meterstream_warehouse.queries import row_counts
from tests.integration.query_fixtures import START, write_known_data, write_training_runs

pytestmark = pytest.mark.clickhouse

KEY = "ms_injection-key"
OTHER = "other-tenant"
CANARY = "canary-zq7"
PAYLOADS = (
    "' OR '1'='1",
    "x'; DROP TABLE raw_completions; --",
    "') UNION ALL SELECT * FROM raw_completions --",
    "{project:String}",
    f"{OTHER}",
    "label:route') OR 1=1 --",
    "model=x' OR project != '",
    "\\'; SELECT 1 --",
    "Unicode \u2713 \u00e9\u4e2d \u0000",
)
RANGE = {"start": START.isoformat(), "end": (START + timedelta(hours=3)).isoformat()}


@pytest.fixture
def client(any_warehouse: Warehouse, project_name: str) -> Iterator[TestClient]:
    write_known_data(any_warehouse, project=project_name)
    write_known_data(any_warehouse, project=OTHER, seed=3)
    write_training_runs(any_warehouse, project=OTHER, steps=20)
    write_training_runs(any_warehouse, project=project_name, steps=20)
    # A canary only the other tenant has: it must never come back to this key.
    any_warehouse.execute(
        f"""
        INSERT INTO raw_completions (schema_version, event_id, time, project, completion_id,
            model, provider, started_at, latency_ms, status, labels)
        VALUES (1, generateUUIDv4(), '{START:%Y-%m-%d %H:%M:%S}', '{OTHER}', 'canary-call',
                '{CANARY}', 'openai', '{START:%Y-%m-%d %H:%M:%S}', 5, 'ok',
                map('route', '{CANARY}'))
        """
    )
    planted = any_warehouse.query_rows(
        "SELECT count() AS n FROM raw_completions WHERE model = {m:String}", params={"m": CANARY}
    )
    assert planted == [{"n": 1}]
    config = ApiConfig(api_keys=f"{project_name}:{hash_key(KEY)}")
    with TestClient(create_app(config, any_warehouse)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {KEY}"
        yield test_client


def requests_with(payload: str) -> list[tuple[str, dict[str, str | list[str]]]]:
    """(path, query) pairs putting the payload in each parameter in turn."""
    p = quote(payload, safe="")
    return [
        ("/api/v1/metrics", {"category": payload}),
        ("/api/v1/series", {"metric": payload}),
        ("/api/v1/series", {"metric": f"user:{payload}"}),
        ("/api/v1/series", {"metric": "system:calls", "group_by": payload}),
        ("/api/v1/series", {"metric": "system:calls", "group_by": f"label:{payload}"}),
        ("/api/v1/series", {"metric": "system:calls", "filter": f"model={payload}"}),
        ("/api/v1/series", {"metric": "system:calls", "filter": f"label:route={payload}"}),
        ("/api/v1/series", {"metric": "system:calls", "agg": payload}),
        ("/api/v1/series", {"metric": "system:calls", "last": payload}),
        ("/api/v1/series", {"metric": "system:calls", "start": payload}),
        ("/api/v1/costs", {"by": payload}),
        ("/api/v1/costs", {"per": payload}),
        (f"/api/v1/feedback/{p}/values", {}),
        (f"/api/v1/feedback/{p}/leaderboard", {}),
        (f"/api/v1/preferences/{p}/win-rates", {}),
        ("/api/v1/runs", {"search": payload}),
        (f"/api/v1/runs/{p}/keys", {}),
        (f"/api/v1/runs/{p}/history", {"key": "train/reward"}),
        ("/api/v1/runs/run-0/history", {"key": payload}),
        ("/api/v1/runs/compare", {"run_id": ["run-0", payload], "key": payload}),
        (f"/api/v1/runs/{p}/tables/{p}", {"search": payload}),
        ("/api/v1/runs/run-0/tables/samples", {"search": payload}),
        ("/api/v1/alerts", {"limit": payload}),
    ]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_every_parameter_are_answered_and_stay_in_the_project(
    client: TestClient, any_warehouse: Warehouse, payload: str
) -> None:
    before = row_counts(any_warehouse)
    for path, query in requests_with(payload):
        answer = client.get(path, params={**RANGE, **query})
        assert answer.status_code in (200, 400, 404, 422), (path, query, answer.text)
        assert CANARY not in answer.text, (path, query)
    bound = client.post(
        "/api/v1/sql",
        json={"sql": "SELECT count() AS n FROM raw_completions WHERE model = {m:String}",
              "params": {"m": payload}},
    )  # fmt: skip
    assert (bound.status_code, bound.json()["rows"]) == (200, [{"n": 0}])
    as_sql = client.post("/api/v1/sql", json={"sql": payload})
    assert as_sql.status_code in (400, 422), as_sql.text
    grouped = client.post(
        "/api/v1/sql",
        json={"sql": "SELECT model, labels['route'] AS route FROM raw_completions"
                     " WHERE model != {m:String} GROUP BY model, route",
              "params": {"m": payload}},
    )  # fmt: skip
    assert grouped.status_code == 200
    assert grouped.json()["rows"]  # the caller's own rows, the canary not among them
    assert CANARY not in grouped.text
    assert row_counts(any_warehouse) == before

"""The query API over HTTP on a real ClickHouse engine: who may read what (401, 403,
scoping of analysts' SQL), arguments refused with the field named (400), and answers
that match the rows written."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from meterstream_api.app import create_app
from meterstream_api.config import ApiConfig
from meterstream_contracts.api_keys import hash_key
from meterstream_kafka import KafkaConfig
from meterstream_warehouse import Warehouse
from tests.integration.query_fixtures import MODELS, START, KnownData, write_known_data

pytestmark = pytest.mark.clickhouse

KEY_A, KEY_B = "ms_key-of-project-a", "ms_key-of-project-b"
RANGE = {
    "start": START.isoformat(),
    "end": (START + timedelta(hours=3)).isoformat(),
}


@pytest.fixture
def known(any_warehouse: Warehouse, project_name: str) -> KnownData:
    write_known_data(any_warehouse, project="project-b", seed=8)
    return write_known_data(any_warehouse, project=project_name)


@pytest.fixture
def client(any_warehouse: Warehouse, known: KnownData) -> Iterator[TestClient]:
    config = ApiConfig(
        api_keys=f"{known.project}:{hash_key(KEY_A)},project-b:{hash_key(KEY_B)}",
    )
    nowhere = KafkaConfig(bootstrap_servers="127.0.0.1:9", request_timeout_ms=1000)
    with TestClient(create_app(config, any_warehouse, nowhere)) as test_client:
        yield test_client


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_without_a_valid_key_nothing_is_read(client: TestClient) -> None:
    for headers in ({}, _auth("ms_not-a-key"), {"X-Api-Key": ""}):
        answer = client.get("/api/v1/metrics", headers=headers)
        assert answer.status_code == 401, headers
    assert client.get("/api/v1/metrics", headers={"X-Api-Key": KEY_A}).status_code == 200


def test_a_key_reads_its_own_project_only(client: TestClient, known: KnownData) -> None:
    asked_b = client.get(
        "/api/v1/series",
        params={"metric": "system:calls", "agg": "count", "project": "project-b", **RANGE},
        headers=_auth(KEY_A),
    )
    assert asked_b.status_code == 403
    assert "project-b" in asked_b.json()["detail"]
    own = client.get(
        "/api/v1/series",
        params={"metric": "system:calls", "agg": "count", "group_by": "model",
                "project": known.project, "interval": 3600 * 3, **RANGE},
        headers=_auth(KEY_A),
    )  # fmt: skip
    assert own.status_code == 200
    per_model = {s["group"]["model"]: sum(s["values"]) for s in own.json()["series"]}
    assert per_model == {m: sum(c["model"] == m for c in known.completions) for m in MODELS}


def test_analyst_sql_sees_the_callers_rows_only(client: TestClient, known: KnownData) -> None:
    def count(key: str, sql: str) -> int:
        answer = client.post("/api/v1/sql", json={"sql": sql}, headers=_auth(key))
        assert answer.status_code == 200, answer.text
        return int(answer.json()["rows"][0]["n"])

    everything = "SELECT count() AS n FROM raw_completions"
    assert count(KEY_A, everything) == len(known.completions)
    sneaky = "SELECT count() AS n FROM raw_completions WHERE project = 'project-b' OR 1 = 1"
    assert count(KEY_A, sneaky) == len(known.completions)
    bound = client.post(
        "/api/v1/sql",
        json={"sql": "SELECT count() AS n FROM raw_completions WHERE model = {m:String}",
              "params": {"m": "gpt-4o' OR '1'='1"}},
        headers=_auth(KEY_A),
    )  # fmt: skip
    assert bound.json()["rows"][0]["n"] == 0
    refused = client.post(
        "/api/v1/sql",
        json={"sql": "SELECT * FROM url('http://127.0.0.1:1/', CSV, 'a String')"},
        headers=_auth(KEY_A),
    )
    assert refused.status_code == 400


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("/api/v1/series", {"metric": "system:latency_ms", "agg": "p95",
                            "group_by": "route"}, "group_by"),
        ("/api/v1/series", {"metric": "latency_ms"}, "metric"),
        ("/api/v1/series", {"metric": "system:calls", "filter": "model"}, "filter"),
        ("/api/v1/series", {"metric": "system:calls", "last": "fortnight"}, "last"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_with_the_field_named(
    client: TestClient, path: str, params: dict[str, str], field: str
) -> None:
    answer = client.get(path, params=params, headers=_auth(KEY_A))
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field


def test_leaderboard_over_http_counts_what_it_could_not_match(
    client: TestClient, known: KnownData
) -> None:
    board = client.get(
        "/api/v1/feedback/hallucination/leaderboard", params=RANGE, headers=_auth(KEY_A)
    ).json()
    assert board["scoring"] == "lower_is_better"
    assert sum(row["count"] for row in board["models"]) == len(known.scores)
    assert board["unmatched"] == 0
    too_far = client.get(
        "/api/v1/feedback/hallucination/leaderboard",
        params={**RANGE, "lookback_s": 10**9},
        headers=_auth(KEY_A),
    )
    assert too_far.status_code == 422


def test_errors_by_type_preference_keys_and_the_health_strip(
    client: TestClient, known: KnownData
) -> None:
    whole: dict[str, str | int] = {**RANGE, "interval": 3 * 3600}
    errors = client.get(
        "/api/v1/series",
        params={**whole, "metric": "system:error", "agg": "sum", "group_by": "error_type"},
        headers=_auth(KEY_A),
    ).json()
    by_type = {s["group"]["error_type"]: sum(v or 0 for v in s["values"]) for s in errors["series"]}
    failed = Counter(c["error_type"] for c in known.completions if c["status"] == "error")
    assert {kind: n for kind, n in by_type.items() if n} == failed
    assert set(failed) == {"RateLimitError", "Timeout"}
    refused = client.get(
        "/api/v1/series",
        params={**whole, "metric": "grader:hallucination", "group_by": "error_type"},
        headers=_auth(KEY_A),
    )
    assert (refused.status_code, refused.json()["field"]) == (400, "group_by")

    keys = client.get("/api/v1/preferences", params=RANGE, headers=_auth(KEY_A)).json()
    assert keys == [{"key": "pairwise", "comparisons": len(known.preferences)}]

    health = client.get("/api/v1/health", params=RANGE, headers=_auth(KEY_A)).json()
    # rows of November: none stored in the last five minutes with a time that recent
    assert health["freshness"] == {"window_s": 300, "calls": 0, "p50_ms": None, "p99_ms": None}
    assert (health["dead_letters"], health["last_alert"]) == (0, None)
    # no broker at this client's address: the strip says so instead of failing
    assert health["lag"]["groups"] is None
    assert health["lag"]["error"]


def test_a_batch_answers_each_request_as_its_own_get_would(
    client: TestClient, known: KnownData
) -> None:
    asked = [
        ("series", {**RANGE, "metric": "system:latency_ms", "agg": "p95", "group_by": "model"}),
        ("preferences", RANGE),
        ("series", {**RANGE, "metric": "system:nope"}),
        ("runs/compare", {"key": "k"}),
    ]
    answers = client.post(
        "/api/v1/batch",
        json={"requests": [{"path": path, "params": params} for path, params in asked]},
        headers=_auth(KEY_A),
    ).json()
    for (path, params), answer in zip(asked, answers, strict=True):
        alone = client.get(f"/api/v1/{path}", params=params, headers=_auth(KEY_A))
        assert (answer["status"], answer["body"]) == (alone.status_code, alone.json())
    assert [answer["status"] for answer in answers] == [200, 200, 400, 422]
    # the key is the caller's for every request of the batch
    other = client.post(
        "/api/v1/batch",
        json={"requests": [{"path": "preferences", "params": {**RANGE, "project": known.project}}]},
        headers=_auth(KEY_B),
    ).json()
    assert other[0]["status"] == 403
    unknown = client.post("/api/v1/batch", json={"requests": [{"path": "runs"}]})
    assert unknown.status_code == 401
    refusals: list[dict[str, Any]] = [
        {"requests": [{"path": "batch"}]},
        {"requests": [{"path": "runs"}] * 33},
        {"requests": [{"path": "../healthz"}]},
        {"requests": [{"path": "runs/../../healthz"}]},
        {"requests": [{"path": "/healthz"}]},
        {"requests": []},
    ]
    for refused in refusals:
        answer = client.post("/api/v1/batch", json=refused, headers=_auth(KEY_A))
        assert answer.status_code == 422, refused

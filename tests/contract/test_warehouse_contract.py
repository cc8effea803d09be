"""One contract, every backend: embedded chDB always, a ClickHouse server when reachable."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from meterstream_contracts import decode_envelope, encode_event
from meterstream_contracts.derived import InferenceRollup
from meterstream_derivations.sketch import QuantileSketch
from meterstream_warehouse import (
    TABLES,
    RejectedBatch,
    Warehouse,
    load_migrations,
    migrate,
    set_raw_retention,
    table_for_kind,
)
from meterstream_warehouse.migrate import applied_migrations
from meterstream_warehouse.queries import inference_windows
from tests.helpers import ALL_KINDS, examples_for_project

pytestmark = pytest.mark.clickhouse


def store_examples(warehouse: Warehouse, kind: str, project: str) -> int:
    valid, _ = examples_for_project(kind, project)
    events = [decode_envelope(line, kind=kind).events[0] for line in valid]
    payload = b"\n".join(encode_event(e) for e in events)
    result = warehouse.insert_json_rows(table_for_kind(kind).name, payload, dedup_token=None)
    return result.rows


def count(warehouse: Warehouse, table: str, project: str) -> int:
    rows = warehouse.query_rows(
        f"SELECT count() AS n FROM {table} WHERE project = {{p:String}}", params={"p": project}
    )
    return int(rows[0]["n"])


def test_migrations_are_recorded_and_rerunning_applies_nothing(any_warehouse: Warehouse) -> None:
    ledger = applied_migrations(any_warehouse)
    assert sorted(ledger) == [m.version for m in load_migrations()]
    assert migrate(any_warehouse, raw_retention_days=30) == []


def test_every_table_exists(any_warehouse: Warehouse) -> None:
    rows = any_warehouse.query_rows(
        "SELECT name FROM system.tables WHERE database = {db:String}",
        params={"db": any_warehouse.database},
    )
    names = {row["name"] for row in rows}
    assert {spec.name for spec in TABLES.values()} <= names


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_valid_examples_of_every_kind_are_stored(
    any_warehouse: Warehouse, kind: str, project_name: str
) -> None:
    valid, _ = examples_for_project(kind, project_name)
    events = [decode_envelope(line, kind=kind).events[0] for line in valid]
    spec = table_for_kind(kind)
    payload = b"\n".join(encode_event(e) for e in events)
    any_warehouse.insert_json_rows(spec.name, payload, dedup_token=None)
    rows = any_warehouse.query_rows(
        f"SELECT toString(event_id) AS id, schema_version FROM {spec.name} FINAL"
        " WHERE project = {p:String}",
        params={"p": project_name},
    )
    stored_ids = {row["id"] for row in rows}
    if spec.has_retention:
        assert stored_ids == {str(e.event_id) for e in events}
    else:
        # Registries keep the latest record per key: the last example wins.
        assert str(events[-1].event_id) in stored_ids
    assert all(row["schema_version"] == 1 for row in rows)


def test_a_retried_insert_with_the_same_token_is_stored_once(
    any_warehouse: Warehouse, project_name: str
) -> None:
    valid, _ = examples_for_project("completion", project_name)
    payload = b"\n".join(
        encode_event(decode_envelope(v, kind="completion").events[0]) for v in valid
    )
    token = f"raw_completions:{uuid.uuid4().hex}"
    for _ in range(3):
        any_warehouse.insert_json_rows("raw_completions", payload, dedup_token=token)
    assert count(any_warehouse, "raw_completions", project_name) == len(valid)


def test_one_insert_may_span_years_of_daily_partitions(
    any_warehouse: Warehouse, project_name: str
) -> None:
    """A batch of a backfill (or of far-apart event times) spans many daily partitions:
    ClickHouse refuses more than 100 per insert by default, and the sink would retry it
    forever."""
    valid, _ = examples_for_project("completion", project_name)
    event = decode_envelope(valid[0], kind="completion").events[0]
    start = datetime.now(UTC) - timedelta(days=80)
    lines = [
        encode_event(event.model_copy(update={"event_id": uuid.uuid4(),
                                              "time": start + timedelta(days=3 * i)}))
        for i in range(400)
    ]  # fmt: skip
    any_warehouse.insert_json_rows("raw_completions", b"\n".join(lines), dedup_token=None)
    assert count(any_warehouse, "raw_completions", project_name) == 400


def test_rows_given_as_unjoined_pieces_are_stored_as_one_insert(
    any_warehouse: Warehouse, project_name: str
) -> None:
    """The sink hands over its envelopes unjoined: small pieces, newline pieces, and pieces
    larger than one streamed chunk, all in one insert under one dedup token."""
    valid, _ = examples_for_project("completion", project_name)
    event = decode_envelope(valid[0], kind="completion").events[0]
    lines = [
        encode_event(event.model_copy(update={"event_id": uuid.uuid4(), "completion_id": str(i)}))
        for i in range(3000)
    ]
    big = b"\n".join(lines[:2500])  # > 1 MiB: sent as its own chunk
    pieces = [lines[2500], b"\n", big, b"\n", *(p for line in lines[2501:] for p in (line, b"\n"))]
    assert len(big) > 1024 * 1024
    token = f"raw_completions:{uuid.uuid4().hex}"
    for _ in range(2):
        any_warehouse.insert_json_rows("raw_completions", pieces, dedup_token=token)
    assert count(any_warehouse, "raw_completions", project_name) == 3000


def test_one_bad_piece_rejects_the_whole_streamed_insert(
    any_warehouse: Warehouse, project_name: str
) -> None:
    valid, _ = examples_for_project("completion", project_name)
    good = encode_event(decode_envelope(valid[0], kind="completion").events[0])
    pieces = [good, b"\n", b'{"event_id":"not-a-uuid"}', b"\n"]
    with pytest.raises(RejectedBatch):
        any_warehouse.insert_json_rows("raw_completions", pieces)
    assert count(any_warehouse, "raw_completions", project_name) == 0


def test_a_replayed_event_collapses_into_one_row_under_final(
    any_warehouse: Warehouse, project_name: str
) -> None:
    valid, _ = examples_for_project("grader_score", project_name)
    any_warehouse.insert_json_rows("raw_grader_scores", valid[0], dedup_token="a")
    any_warehouse.insert_json_rows("raw_grader_scores", valid[0], dedup_token="b")
    rows = any_warehouse.query_rows(
        "SELECT count() AS n FROM raw_grader_scores FINAL WHERE project = {p:String}",
        params={"p": project_name},
    )
    assert rows[0]["n"] == 1


def test_unparseable_rows_reject_the_batch(any_warehouse: Warehouse) -> None:
    with pytest.raises(RejectedBatch):
        any_warehouse.insert_json_rows("raw_completions", b'{"event_id":"not-a-uuid"}\n')


def test_parameters_are_bound_not_spliced(any_warehouse: Warehouse, project_name: str) -> None:
    store_examples(any_warehouse, "completion", project_name)
    hostile = f"{project_name}' OR 1=1 --"
    assert count(any_warehouse, "raw_completions", hostile) == 0
    assert count(any_warehouse, "raw_completions", project_name) > 0


def test_arrow_batches_insert_and_read_back(any_warehouse: Warehouse, project_name: str) -> None:
    batch = pa.table(
        {
            "event_id": [str(uuid.uuid4()) for _ in range(3)],
            "time": pa.array([1_763_632_800_000_000] * 3, pa.timestamp("us", tz="UTC")),
            "project": [project_name] * 3,
            "key": ["k"] * 3,
            "preferred_completion_id": ["a", "b", "c"],
            "other_completion_id": ["x", "y", "z"],
        }
    )
    result = any_warehouse.insert_arrow("raw_preferences", batch, dedup_token=None)
    assert result.rows == 3
    table = any_warehouse.query_arrow(
        "SELECT preferred_completion_id FROM raw_preferences WHERE project = {p:String}"
        " ORDER BY preferred_completion_id",
        params={"p": project_name},
    )
    assert table.column(0).to_pylist() == ["a", "b", "c"]


def test_retention_can_be_changed_on_every_raw_table(any_warehouse: Warehouse) -> None:
    altered = set_raw_retention(any_warehouse, days=7)
    assert altered
    rows = any_warehouse.query_rows(
        "SELECT create_table_query AS q FROM system.tables"
        " WHERE database = {db:String} AND name = 'raw_completions'",
        params={"db": any_warehouse.database},
    )
    assert "toIntervalDay(7)" in rows[0]["q"] or "INTERVAL 7 DAY" in rows[0]["q"]


def test_rollup_partials_merge_in_clickhouse_exactly_as_in_the_stream(
    any_warehouse: Warehouse, project_name: str
) -> None:
    rng = random.Random(9)
    window = datetime.now(UTC).replace(second=0, microsecond=0)
    merged = QuantileSketch()
    partials = []
    for index in range(4):
        sketch = QuantileSketch()
        sketch.extend(rng.lognormvariate(6.5, 0.8) for _ in range(2_000))
        merged.merge(sketch)
        partials.append(
            InferenceRollup(
                project=project_name,
                model="gpt-4o-mini",
                window_start=window,
                window_seconds=60,
                partial_id=f"completions:{index}:0-1999",
                count=sketch.count,
                errors={"rate_limited": index},
                input_tokens=1000 * index,
                latency_bins=sketch.bins,
            )
        )
    payload = b"\n".join(p.model_dump_json().encode() for p in partials)
    any_warehouse.insert_json_rows("inference_rollup_partials", payload)
    # A replay of one partial with other batch boundaries: it must not count twice.
    any_warehouse.insert_json_rows(
        "inference_rollup_partials", partials[1].model_dump_json().encode()
    )
    (row,) = inference_windows(any_warehouse, project=project_name, window_seconds=60)
    assert row["calls"] == merged.count == 8_000
    assert row["input_tokens"] == 6_000
    assert row["errors"] == {"rate_limited": 6}
    for q, column in ((0.5, "p50_latency_ms"), (0.95, "p95_latency_ms"), (0.99, "p99_latency_ms")):
        expected = merged.quantile(q)
        assert expected is not None
        assert row[column] == pytest.approx(expected, rel=1e-12)

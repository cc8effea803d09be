"""The sink's RowBinary path stores what JSONEachRow stores, on every backend.

The same completion lines go into `raw_completions` twice: as JSON, read by ClickHouse's
own parser (the reference), and re-encoded by `meterstream_rowbinary_native`. Every column
but the insert's own (ingested_at, insert_token) must hold the same value.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from meterstream_rowbinary_native import COMPLETION_COLUMNS, completion_rows

from meterstream_contracts import Completion, encode_event
from meterstream_warehouse import Warehouse

pytestmark = pytest.mark.clickhouse

T0 = datetime(2026, 11, 20, 10, tzinfo=UTC)
SAME = "SELECT * EXCEPT (ingested_at, insert_token) FROM {table:Identifier} ORDER BY event_id"

words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=24
)
ids = st.from_regex(r"[A-Za-z0-9_.:\-]{1,40}", fullmatch=True)
amounts = st.floats(min_value=0, max_value=1e9, allow_nan=False, allow_infinity=False)
tokens = st.integers(min_value=0, max_value=1 << 40)


@st.composite
def completions(draw: st.DrawFn) -> Completion:
    latency = draw(amounts)
    input_tokens, output_tokens = draw(tokens), draw(tokens)
    cached = draw(st.integers(0, input_tokens))
    written = draw(st.integers(0, input_tokens - cached))
    failed = draw(st.booleans())
    return Completion(
        event_id=uuid.UUID(int=draw(st.integers(0, (1 << 128) - 1))),
        time=T0 + timedelta(microseconds=draw(st.integers(-(10**12), 10**12))),
        started_at=T0 + timedelta(microseconds=draw(st.integers(-(10**12), 0))),
        project=draw(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,20}", fullmatch=True)),
        completion_id=draw(ids),
        model=draw(words),
        provider=draw(st.none() | words),
        latency_ms=latency,
        ttft_ms=draw(st.none() | st.floats(0, latency)),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_tokens=cached,
        cache_creation_tokens=written,
        cache_creation_1h_tokens=draw(st.integers(0, written)),
        reasoning_tokens=draw(st.integers(0, output_tokens)),
        reported_cost_usd=draw(st.none() | amounts),
        status="error" if failed else "ok",
        error_type=draw(st.none() | words) if failed else None,
        streamed=draw(st.booleans()),
        labels=draw(st.dictionaries(words, st.text(max_size=40), max_size=5)),
    )


def stored_both_ways(
    warehouse: Warehouse, lines: bytes
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows `lines` become as JSON and as RowBinary, each in a table of its own."""
    copy = f"raw_completions_json_{uuid.uuid4().hex[:8]}"
    warehouse.execute(f"CREATE TABLE {copy} AS raw_completions")
    warehouse.execute("TRUNCATE TABLE raw_completions")
    encoded, rows = completion_rows(lines)
    warehouse.insert_json_rows(copy, lines)
    warehouse.insert_row_binary("raw_completions", COMPLETION_COLUMNS, encoded)
    reference = warehouse.query_rows(SAME, params={"table": copy})
    fast = warehouse.query_rows(SAME, params={"table": "raw_completions"})
    warehouse.execute(f"DROP TABLE {copy}")
    assert rows == len(reference)
    return reference, fast


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(completions(), min_size=1, max_size=60))
def test_row_binary_stores_what_json_stores(
    any_warehouse: Warehouse, batch: list[Completion]
) -> None:
    reference, fast = stored_both_ways(any_warehouse, b"\n".join(map(encode_event, batch)))
    assert fast == reference
    assert len(fast) == len(batch)


def test_json_written_by_hand_is_stored_alike(any_warehouse: Warehouse) -> None:
    """Shapes other writers use: offsets, integers for floats, escapes, keys left out or
    null, unknown keys, a document over several lines, blank lines between documents."""
    lines = b"\n".join([
        b'{"event_id":"00000000-0000-4000-8000-00000000000a","time":"2026-11-20T12:00:00+02:00",'
        b'"project":"p","model":"m","started_at":"2026-11-20T09:59:59.5-00:30","latency_ms":12,'
        b'"labels":{"r\\u00e9gion":"\\ud83d\\ude00 \\"x\\"\\n"},"status":"ok","kind":"completion"}',
        b'{"event_id":"00000000-0000-4000-8000-00000000000B","time":"2026-11-20T10:00:00.1Z",'
        b'"project":"p","model":"m","provider":null,"error_type":null,"ttft_ms":null,',
        b'"labels":{},"streamed":true,"input_tokens":1099511627776,"unknown":[1,{"a":2}]}',
        b"",
        b'{"event_id":"ffffffff-ffff-4fff-bfff-ffffffffffff","time":"2299-12-31T23:59:59.999999Z",'
        b'"project":"p","model":"m","reported_cost_usd":0.1,"latency_ms":1e-7}',
    ])  # fmt: skip
    reference, fast = stored_both_ways(any_warehouse, lines)
    assert fast == reference
    assert len(fast) == 3


@pytest.mark.parametrize(
    "document",
    [
        b'{"time":"2026-11-20T10:00:00"}',  # no offset: ClickHouse would read it in its zone
        b'{"time":"2026-11-20T10:00:00.1234567Z"}',  # finer than the column
        b'{"time":"1969-12-31T23:59:59Z"}',
        b'{"event_id":"0000000000004000800000000000000a"}',
        b'{"model":7}',
        b'{"input_tokens":1.0}',
        b'{"input_tokens":-1}',
        b'{"streamed":1}',
        b'{"labels":{"a":"1","a":"2"}}',
        b'{"labels":{"a":1}}',
        b'{"project":"p"',
    ],
)
def test_what_the_encoder_cannot_store_exactly_it_refuses(document: bytes) -> None:
    good = b'{"project":"p","model":"m"}'
    with pytest.raises(ValueError, match="document 1"):
        completion_rows(good + b"\n" + document)

"""Body decoding, item checks and API keys; no I/O."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

import orjson
import pytest
import zstandard

from meterstream_contracts import Completion
from meterstream_contracts.api_keys import ApiKeyStore, hash_key
from meterstream_contracts.examples import load_examples
from meterstream_contracts.fields import RetentionWindow
from meterstream_gateway.body import BadBody, BodyTooLarge, decompress, split_items
from meterstream_gateway.items import check_items


def test_gzip_and_zstd_bodies_decompress_within_the_cap() -> None:
    raw = b'{"a":1}\n' * 100
    assert decompress(gzip.compress(raw), "gzip", limit=10_000) == raw
    assert decompress(zstandard.ZstdCompressor().compress(raw), "zstd", limit=10_000) == raw
    with pytest.raises(BodyTooLarge, match="exceeds 500 bytes"):
        decompress(gzip.compress(raw), "gzip", limit=500)
    bomb = gzip.compress(b"\0" * 5_000_000)
    with pytest.raises(BodyTooLarge):
        decompress(bomb, "gzip", limit=1_000_000)


def test_unknown_or_broken_encodings_are_bad_requests() -> None:
    with pytest.raises(BadBody, match="unsupported Content-Encoding 'br'"):
        decompress(b"x", "br", limit=10)
    with pytest.raises(BadBody, match="cannot decompress"):
        decompress(b"not gzip", "gzip", limit=100)


def test_json_arrays_and_ndjson_both_split_into_items() -> None:
    assert split_items(b'[{"a":1},{"b":2}]') == [{"a": 1}, {"b": 2}]
    assert split_items(b'{"a":1}\n\n{"b":2}\n') == [b'{"a":1}', b'{"b":2}']


def test_each_item_is_judged_alone_and_reasons_name_the_field() -> None:
    good = orjson.loads(load_examples("completion").valid[0])
    bad = {**good, "latency_ms": -5}
    items = [good, bad, b"{oops", {"kind": "nope"}, [1]]
    checked = check_items(items, project="acme-chat")
    assert len(checked.events) == 1
    reasons = {r.index: r.reason for r in checked.rejected}
    assert set(reasons) == {1, 2, 3, 4}
    assert "latency_ms" in reasons[1]
    assert "not valid JSON" in reasons[2]
    assert "kind: 'nope'" in reasons[3]


def test_items_default_to_the_keys_project_and_foreign_ones_are_flagged() -> None:
    event = orjson.loads(load_examples("metric_value").valid[0])
    event.pop("project")
    checked = check_items([event, {**event, "project": "someone-else"}], project="mine")
    assert [e.project for e in checked.events] == ["mine"]
    assert checked.foreign_projects == {"someone-else"}


def test_keys_are_matched_by_hash_only() -> None:
    store = ApiKeyStore.from_settings(f"acme:{hash_key('secret-1')}", None)
    assert store.project_for("secret-1") == "acme"
    assert store.project_for("secret-2") is None


def test_ndjson_lines_without_a_project_get_the_key_s_and_others_are_judged_as_objects() -> None:
    event = orjson.loads(load_examples("completion").valid[0])
    event.pop("project")
    line = orjson.dumps(event)
    labelled = orjson.dumps({**event, "labels": {"project": "someone-else"}})
    foreign = orjson.dumps({**event, "project": "someone-else"})
    escaped = line.replace(b"{", b'{"\\u0070roject":"someone-else",', 1)
    items = [line, b"   " + line, labelled, foreign, escaped, b"{}", b"[1]", b"42"]
    checked = check_items(items, project="mine")
    assert [e.project for e in checked.events] == ["mine"] * 3
    labelled_event = checked.events[2]
    assert isinstance(labelled_event, Completion)
    assert labelled_event.labels == {"project": "someone-else"}
    # A project spelled with an escape is the item's own, as JSON reads it: a foreign one.
    assert checked.foreign_projects == {"someone-else"}
    reasons = {r.index: r.reason for r in checked.rejected}
    assert reasons[5].startswith("kind: None")
    assert reasons[6] == reasons[7] == "<event>: expected a JSON object"


def test_a_key_given_twice_is_refused_naming_it_and_its_neighbours_are_kept() -> None:
    good = b'{"kind":"completion","model":"m","started_at":"2026-11-20T10:00:00Z","latency_ms":1}'
    twice = b'{"kind":"completion","project":"p","project":"other","model":"m",' + good[29:]
    nested = good[:-1] + b',"labels":{"a":"1","a":"2"}}'
    checked = check_items([good, twice, nested], project="p")
    assert len(checked.events) == 1
    assert [(r.index, r.reason) for r in checked.rejected] == [
        (1, '<event>: Detected duplicate key "project" at line 1 column 46'),
        (2, '<event>: Detected duplicate key "a" at line 1 column 107'),
    ]
    assert not checked.foreign_projects  # the second project never wins silently
    with pytest.raises(BadBody, match='duplicate key "project"'):
        split_items(b"[" + twice + b"]")


def test_an_event_older_than_the_raw_tables_keep_is_refused_at_the_door() -> None:
    def at(when: str) -> bytes:
        return b'{"kind":"completion","model":"m","started_at":"%s","time":"%s","latency_ms":1}' % (
            when.encode(),
            when.encode(),
        )

    kept = RetentionWindow(datetime(2026, 9, 6, tzinfo=UTC), 90)
    checked = check_items([at("2026-12-01T00:00:00Z"), at("2026-09-05T23:59:59Z")], project="p",
                          kept=kept)  # fmt: skip
    assert len(checked.events) == 1
    ((index, reason),) = [(r.index, r.reason) for r in checked.rejected]
    assert index == 1
    assert reason.startswith("time: 2026-09-05T23:59:59+00:00 is older than the raw tables keep")
    assert "90 days: from 2026-09-06T00:00:00Z" in reason

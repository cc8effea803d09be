"""Error classification and the SETTINGS clause; no I/O."""

from __future__ import annotations

import pytest

from meterstream_warehouse import RejectedBatch, RetriableWarehouseError
from meterstream_warehouse.errors import classify_insert_error, clickhouse_error_code
from meterstream_warehouse.settings import insert_settings, settings_clause


def test_error_code_is_read_from_the_message() -> None:
    assert clickhouse_error_code("Code: 376. DB::Exception: Cannot parse uuid") == 376
    assert clickhouse_error_code("connection refused") is None


def test_parse_errors_reject_the_batch_and_others_are_retriable() -> None:
    assert isinstance(classify_insert_error("Code: 27. Cannot parse input"), RejectedBatch)
    assert isinstance(classify_insert_error("Code: 241. Memory limit"), RetriableWarehouseError)
    assert isinstance(classify_insert_error("socket closed"), RetriableWarehouseError)


def test_settings_clause_quotes_strings() -> None:
    clause = settings_clause({"a": 1, "insert_deduplication_token": "t'x\\"})
    assert clause == "SETTINGS a=1, insert_deduplication_token='t\\'x\\\\'"


def test_settings_clause_refuses_odd_names() -> None:
    with pytest.raises(ValueError, match="bad setting name"):
        settings_clause({"a=1; DROP": 1})


def test_dedup_token_is_added_only_when_given() -> None:
    assert "insert_deduplication_token" not in insert_settings(None)
    assert insert_settings("tok")["insert_deduplication_token"] == "tok"

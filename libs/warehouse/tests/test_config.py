"""Settings given as arguments win over defaults."""

from __future__ import annotations

import pytest

from meterstream_warehouse import WarehouseConfig


def test_an_explicit_url_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLICKHOUSE_URL", raising=False)
    monkeypatch.delenv("MS_WAREHOUSE_URL", raising=False)
    assert WarehouseConfig(url="http://ch:8123").url == "http://ch:8123"
    monkeypatch.setenv("CLICKHOUSE_URL", "http://other:8123")
    assert WarehouseConfig().url == "http://other:8123"

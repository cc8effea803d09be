"""Settings given as arguments win over defaults; environment aliases still work."""

from __future__ import annotations

import pytest

from meterstream_kafka import KafkaConfig


def test_an_explicit_bootstrap_address_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("MS_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert KafkaConfig(bootstrap_servers="10.1.2.3:9999").bootstrap_servers == "10.1.2.3:9999"


def test_either_environment_name_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "h1:1")
    assert KafkaConfig().bootstrap_servers == "h1:1"
    monkeypatch.setenv("MS_KAFKA_BOOTSTRAP_SERVERS", "h2:2")
    assert KafkaConfig().bootstrap_servers == "h2:2"

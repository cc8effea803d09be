"""Migration files: numbered, ordered, templated; no I/O."""

from __future__ import annotations

import pytest

from meterstream_warehouse import TABLES, load_migrations
from meterstream_warehouse.migrate import Migration


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_every_event_table_is_created_by_a_migration() -> None:
    text = "\n".join(m.sql for m in load_migrations())
    for spec in TABLES.values():
        assert f"CREATE TABLE IF NOT EXISTS {spec.name}\n" in text


def test_retention_is_substituted_and_comments_dropped() -> None:
    migration = Migration(
        9, "x", "-- note; with a semicolon\nCREATE t TTL ${RAW_RETENTION_DAYS} DAY;\n"
    )
    assert migration.statements(raw_retention_days=14) == ["CREATE t TTL 14 DAY"]


def test_a_template_typo_fails_loudly() -> None:
    with pytest.raises(KeyError):
        Migration(9, "x", "TTL ${RAW_RETENTION}").statements(raw_retention_days=1)


def test_checksum_changes_with_the_text() -> None:
    assert Migration(1, "a", "x").checksum != Migration(1, "a", "y").checksum

"""Numbered migrations (`NNNN_name.sql`), applied once each and recorded in a ledger.

The same files run on chDB and on a server. `${RAW_RETENTION_DAYS}` in a file is
replaced by the deployment's retention; changing it later is `set_raw_retention`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from string import Template

from meterstream_contracts.fields import DATETIME_END, LATEST_TIME, MAX_RETENTION_DAYS
from meterstream_warehouse.base import Warehouse
from meterstream_warehouse.errors import MigrationError
from meterstream_warehouse.tables import EVENT_TABLES, MIGRATIONS_TABLE

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    def statements(self, *, raw_retention_days: int) -> list[str]:
        text = Template(self.sql).substitute(RAW_RETENTION_DAYS=int(raw_retention_days))
        lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
        return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def load_migrations() -> list[Migration]:
    """Every migration shipped with the package, in version order."""
    found: list[Migration] = []
    for entry in resources.files("meterstream_warehouse.migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


def _ensure_ledger(warehouse: Warehouse) -> None:
    warehouse.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} ("
        " version UInt32, name String, checksum String,"
        " applied_at DateTime64(3, 'UTC') DEFAULT now64(3)"
        ") ENGINE = ReplacingMergeTree ORDER BY version"
    )


def applied_migrations(warehouse: Warehouse) -> dict[int, str]:
    """Version → checksum of every migration recorded in the ledger."""
    _ensure_ledger(warehouse)
    rows = warehouse.query_rows(
        f"SELECT version, argMax(checksum, applied_at) AS checksum"
        f" FROM {MIGRATIONS_TABLE} GROUP BY version"
    )
    return {int(row["version"]): str(row["checksum"]) for row in rows}


def check_retention(days: int) -> None:
    """Retention must be at least a day, and short enough that no accepted time's
    retention end passes the end of ClickHouse's DateTime (it would wrap to 1970, and the
    row would be deleted as expired)."""
    if not 1 <= days <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"raw_retention_days must be from 1 to {MAX_RETENTION_DAYS} (times up to"
            f" {LATEST_TIME:%Y-%m-%d} plus the retention must end before"
            f" {DATETIME_END:%Y-%m-%d}), got {days}"
        )


def migrate(warehouse: Warehouse, *, raw_retention_days: int) -> list[Migration]:
    """Apply pending migrations in order; returns those applied now.

    Statements are idempotent (IF NOT EXISTS), so a migration interrupted
    half-way is safely re-run. A changed file that already ran is an error.
    """
    check_retention(raw_retention_days)
    done = applied_migrations(warehouse)
    applied: list[Migration] = []
    for migration in load_migrations():
        if migration.version in done:
            if done[migration.version] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name} changed after it was"
                    " applied; add a new migration instead of editing an applied one"
                )
            continue
        for statement in migration.statements(raw_retention_days=raw_retention_days):
            warehouse.execute(statement)
        warehouse.execute(
            f"INSERT INTO {MIGRATIONS_TABLE} (version, name, checksum)"
            " VALUES ({version:UInt32}, {name:String}, {checksum:String})",
            params={
                "version": migration.version,
                "name": migration.name,
                "checksum": migration.checksum,
            },
        )
        applied.append(migration)
    return applied


def set_raw_retention(warehouse: Warehouse, *, days: int) -> list[str]:
    """Change the TTL of every raw table; returns the tables altered."""
    check_retention(days)
    altered = []
    for spec in EVENT_TABLES.values():
        if spec.has_retention:
            warehouse.execute(
                f"ALTER TABLE {spec.name} MODIFY TTL toDateTime(time) + INTERVAL {int(days)} DAY"
            )
            altered.append(spec.name)
    return altered

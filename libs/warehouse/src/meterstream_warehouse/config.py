"""Typed, frozen warehouse configuration, read once from the environment at start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from meterstream_contracts.fields import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS


class WarehouseConfig(BaseSettings):
    """Where ClickHouse is: a server URL (the default, and what every service uses), or
    embedded chDB on a data folder (one process owning its store: notebooks, one-off
    analysis)."""

    model_config = SettingsConfigDict(
        env_prefix="MS_WAREHOUSE_", frozen=True, extra="ignore", populate_by_name=True
    )

    backend: Literal["chdb", "server"] = "server"
    chdb_path: Path = Path(".meterstream/chdb")
    url: str = Field(
        "http://meterstream:meterstream@127.0.0.1:8123",
        validation_alias=AliasChoices("MS_WAREHOUSE_URL", "CLICKHOUSE_URL"),
        description="ClickHouse HTTP URL, with user:password@ if needed (server backend).",
    )
    database: str = Field("meterstream", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    raw_retention_days: int = Field(DEFAULT_RETENTION_DAYS, ge=1, le=MAX_RETENTION_DAYS)
    query_timeout_s: float = Field(30.0, gt=0)

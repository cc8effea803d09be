"""Typed, frozen configuration of the query API, read once from the environment at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MS_API_", frozen=True, extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(8090, ge=0, le=65535)
    api_keys: str = Field(
        "", description="project:sha256hex pairs, comma separated (the gateway's key format)."
    )
    api_keys_file: Path | None = Field(None, description="JSON lines of {project, sha256}.")
    lag_groups: str = Field(
        "",
        description="Consumer groups whose lag the health strip shows, comma separated"
        " (empty: every group on the cluster).",
    )
    sql_max_execution_s: float = Field(10.0, gt=0, le=300)
    sql_max_result_rows: int = Field(10_000, ge=1, le=1_000_000)
    sql_max_rows_to_read: int = Field(500_000_000, ge=1)

    def lag_group_names(self) -> list[str] | None:
        names = [name.strip() for name in self.lag_groups.split(",") if name.strip()]
        return names or None

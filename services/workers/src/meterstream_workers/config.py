"""Typed, frozen worker configuration, read once from the environment at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MS_WORKER_", frozen=True, extra="ignore")

    app_id: str = "meterstream-workers"
    window_seconds: tuple[int, ...] = Field((10, 60), description="Rollup windows.")
    session_timeout_s: float = Field(10.0, gt=0)
    data_dir: str = ".meterstream/workers"

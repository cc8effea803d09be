"""Typed, frozen SDK configuration: from arguments, or from MS_SDK_* environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

OverflowPolicy = Literal["block", "drop_oldest", "raise"]


class SdkConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MS_SDK_", frozen=True, extra="ignore")

    transport: Literal["kafka", "http"] = "kafka"
    gateway_url: str = "http://127.0.0.1:8080"
    api_key: str = ""
    max_buffer_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    overflow: OverflowPolicy = "drop_oldest"
    block_timeout_s: float = Field(1.0, ge=0)
    flush_interval_s: float = Field(0.5, gt=0, le=0.5, description="Flush at least this often.")
    flush_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Flush early past this.")
    max_events_per_envelope: int = Field(500, ge=1, le=10_000)
    delivery_timeout_s: float = Field(60.0, gt=0, description="Give a batch up after this.")

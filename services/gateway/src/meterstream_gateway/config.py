"""Typed, frozen gateway configuration, read once from the environment at start."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from meterstream_contracts.fields import DEFAULT_RETENTION_DAYS


class GatewayConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MS_GATEWAY_", frozen=True, extra="ignore", env_parse_none_str="off"
    )

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    api_keys: str = Field(
        "", description="project:sha256hex pairs, comma separated (hashes of the keys, never keys)."
    )
    api_keys_file: Path | None = Field(None, description="JSON lines of {project, sha256}.")
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="Decompressed body cap.")
    max_items: int = Field(50_000, ge=1, description="Events per request.")
    raw_retention_days: int = Field(
        DEFAULT_RETENTION_DAYS,
        ge=1,
        description="Days the warehouse's raw tables keep (its raw_retention_days): older"
        " events are refused here.",
    )
    rate_limit: str = Field("200000/second", description="Events per API key (limits syntax).")
    otlp_series_limit: int = Field(100_000, ge=1, description="Cumulative series remembered.")
    otlp_grpc_port: int | None = Field(
        4317, ge=0, le=65535, description="OTLP/gRPC port (0: any free one; off: no gRPC)."
    )
    anonymous_project: str | None = Field(
        None,
        description="Requests without a key write this project (a local stack only: anyone"
        " who reaches the port can write it).",
    )

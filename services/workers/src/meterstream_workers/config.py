"""Typed, frozen worker configuration, read once from the environment at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerConfig(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MS_WORKER_", frozen=True, extra="ignore")

    app_id: str = "meterstream-workers"
    window_seconds: tuple[int, ...] = Field((10, 60), description="Rollup windows.")
    allowed_lateness_s: int = Field(10, ge=0, description="After it, a window is final.")
    merge_retention_s: int = Field(
        6 * 3600, gt=0, description="How long merged windows stay correctable in the stream."
    )
    emit_interval_s: float = Field(0.5, gt=0, description="Merged windows are emitted this often.")
    batch_messages: int = Field(
        64, gt=0, description="Raw messages the stateless first phase takes at a time."
    )
    stream_buffer: int = Field(
        256,
        gt=0,
        description="Raw messages (envelopes of up to hundreds of events) a stream holds read"
        " ahead of its agent; bounds memory when a backlog is read.",
    )
    session_timeout_s: float = Field(10.0, gt=0)
    changelog_buffer: int = Field(
        10_000, gt=0, description="Table writes that may wait to be sent before agents pause."
    )
    data_dir: str = ".meterstream/workers"
    alert_rules: str | None = Field(
        None, description="YAML rule file; unset: the example rules that ship."
    )
    alert_webhook_url: str | None = Field(None, description="POST every alert transition here.")
    alert_webhook_timeout_s: float = Field(5.0, gt=0)
    store: str = Field(
        "rocksdb://", description="faust table store: rocksdb:// (rocksdict) or memory://."
    )

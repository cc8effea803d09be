"""Typed, frozen sink configuration, read once from the environment at start."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from meterstream_sink.faults import CrashPoint


class SinkConfig(BaseSettings):
    """Batch limits and consumer settings of the ClickHouse sink."""

    model_config = SettingsConfigDict(env_prefix="MS_SINK_", frozen=True, extra="ignore")

    group_id: str = "meterstream-sink"
    max_batch_rows: int = Field(50_000, ge=1, description="Flush once this many events wait.")
    max_batch_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    max_batch_seconds: float = Field(
        1.0, gt=0, description="Flush at most this long after the first message."
    )
    fetch_max_records: int = Field(10_000, ge=1, description="Records one poll may take.")
    poll_max_bytes: int = Field(
        8 * 1024 * 1024,
        ge=1024,
        description="Uncompressed bytes one poll aims for (its record count follows their size).",
    )
    # Compressed bytes: envelopes of JSON shrink ~10x with zstd, so what a fetch holds
    # decompressed is ~10x these (bench_sink: peak RSS 449 -> 303 MB going from 16/2 MiB to
    # 4/1 MiB, with the same drain rate).
    fetch_max_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="Bounds what the consumer buffers ahead."
    )
    partition_fetch_max_bytes: int = Field(1024 * 1024, ge=1024)
    session_timeout_ms: int = Field(10_000, ge=1000)
    retry_initial_s: float = Field(0.2, gt=0)
    retry_max_s: float = Field(10.0, gt=0)
    metrics_port: int | None = Field(None, ge=1, le=65535, description="Serve /metrics here.")
    max_consecutive_dead_letters: int = Field(
        500, ge=0, description="Stop when more invalid events than this arrive in a row."
    )
    max_dead_letter_ratio: float = Field(
        0.5, ge=0, le=1, description="Stop when a batch has a larger share of invalid events."
    )
    dead_letter_ratio_min_events: int = Field(1000, ge=1)
    crash_point: CrashPoint | None = Field(None, description="Reliability tests only.")
    crash_after_batches: int = Field(1, ge=1)

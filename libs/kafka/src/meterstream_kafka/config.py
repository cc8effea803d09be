"""Typed, frozen Kafka client configuration, read once from the environment at start."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaConfig(BaseSettings):
    """How to reach the brokers and how producers batch and compress."""

    model_config = SettingsConfigDict(
        env_prefix="MS_KAFKA_", frozen=True, extra="ignore", populate_by_name=True
    )

    bootstrap_servers: str = Field(
        "127.0.0.1:9092",
        validation_alias=AliasChoices("MS_KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS"),
    )
    client_id: str = "meterstream"
    compression: Literal["zstd", "gzip", "lz4", "none"] = Field(
        "zstd", description="aiokafka's lz4 is slow (level 9); zstd is the default."
    )
    linger_ms: int = Field(5, ge=0, le=1000)
    max_batch_bytes: int = Field(1_048_576, ge=16_384)
    request_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description="How long a request waits for a broker's answer before it is retried (a"
        " produce request on the partition's new leader; producers are idempotent, so a retry"
        " never writes twice). With a leader cut off from the cluster, 30 s held every write to"
        " its partitions 30 s; with 10 s the cluster suite's lag was back to 0 in 17-36 s, not 44.",
    )
    metadata_max_age_ms: int = Field(
        5_000,
        ge=1000,
        description="How old the clients' view of partition leaders may get. aiokafka retries"
        " a ListOffsets refused with NOT_LEADER against the same broker until its metadata is"
        " refreshed (5 minutes by default): a consumer placing a partition after a leader moved"
        " spun for minutes in the cluster fault tests.",
    )
    replication_factor: int | None = Field(
        None,
        ge=1,
        description="Copies of each partition of the topics this project creates; unset, the"
        " cluster's size decides (3 with three brokers or more, min.insync.replicas 2).",
    )

    @property
    def compression_type(self) -> str | None:
        return None if self.compression == "none" else self.compression

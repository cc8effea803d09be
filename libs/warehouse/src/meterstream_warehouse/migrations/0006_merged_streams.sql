-- The workers' second phase and ledgers: merged windows, cumulative usage,
-- the cost ledger, feedback partials and the shared price registry.
-- Merged windows and totals are snapshots: the latest emitted is current (a
-- worker deployment's revisions grow, but a new deployment starts them again).
-- Ledger and feedback rows are keyed by the input slice they summarise, so a
-- replayed slice replaces itself.

CREATE TABLE IF NOT EXISTS inference_windows
(
    project LowCardinality(String),
    model LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_seconds UInt32,
    revision UInt64,
    final Bool,
    emitted_at DateTime64(3, 'UTC'),
    count UInt64,
    errors Map(LowCardinality(String), UInt64),
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Float64,
    sketch_relative_accuracy Float64,
    latency_bins Map(Int32, UInt64),
    ttft_bins Map(Int32, UInt64),
    decode_seconds Float64,
    decode_tokens UInt64,
    latency_p50_ms Nullable(Float64),
    latency_p95_ms Nullable(Float64),
    latency_p99_ms Nullable(Float64),
    ttft_p50_ms Nullable(Float64),
    ttft_p99_ms Nullable(Float64),
    decode_tokens_per_s Nullable(Float64),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(emitted_at)
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, model, window_seconds, window_start)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS usage_totals
(
    project LowCardinality(String),
    model LowCardinality(String),
    revision UInt64,
    through DateTime64(3, 'UTC'),
    emitted_at DateTime64(3, 'UTC'),
    count UInt64,
    errors UInt64,
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(emitted_at)
ORDER BY (project, model)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS cost_ledger
(
    entry_id String,
    project LowCardinality(String),
    cost_kind LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    run_id String,
    split LowCardinality(String),
    source LowCardinality(String),
    window_start DateTime('UTC'),
    window_seconds UInt32,
    price_version LowCardinality(String),
    count Int64,
    input_tokens Int64,
    output_tokens Int64,
    cached_tokens Int64,
    cache_write_tokens Int64,
    gpu_seconds Float64,
    cost_usd Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, window_start, cost_kind, provider, model, run_id, split, source, price_version, entry_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS feedback_rollup_partials
(
    project LowCardinality(String),
    key LowCardinality(String),
    source LowCardinality(String),
    category LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_seconds UInt32,
    partial_id String,
    count UInt64,
    total Float64,
    min Nullable(Float64),
    max Nullable(Float64),
    true_count UInt64,
    scoring LowCardinality(Nullable(String)),
    value_kind LowCardinality(Nullable(String)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, key, source, window_seconds, window_start, partial_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS model_prices
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    effective_from Date,
    prompt_per_million Float64,
    completion_per_million Float64,
    cached_prompt_per_million Nullable(Float64),
    cache_write_per_million Nullable(Float64),
    deleted Bool,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (provider, model, effective_from)
SETTINGS non_replicated_deduplication_window = 10000;

ALTER TABLE inference_rollup_partials ADD COLUMN IF NOT EXISTS decode_tokens UInt64 AFTER decode_seconds;

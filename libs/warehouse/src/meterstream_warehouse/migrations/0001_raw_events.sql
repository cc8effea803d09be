-- Raw tables, one per event kind. Column names equal the contract's field
-- names so envelopes insert as JSONEachRow without a Python decode.
-- ReplacingMergeTree ordered by ... event_id: a replayed event collapses into
-- the stored one; insert dedup tokens stop retried batches at insert time.

CREATE TABLE IF NOT EXISTS raw_completions
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    completion_id String,
    model LowCardinality(String),
    provider LowCardinality(String),
    started_at DateTime64(6, 'UTC'),
    ttft_ms Nullable(Float64),
    latency_ms Float64,
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    status LowCardinality(String),
    error_type LowCardinality(String),
    streamed Bool,
    labels Map(LowCardinality(String), String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_completion_id completion_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, model, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_grader_scores
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    completion_id String,
    grader_name LowCardinality(String),
    grader_type LowCardinality(String),
    key LowCardinality(String),
    value Float64,
    passed Nullable(Bool),
    reason String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_completion_id completion_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, key, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_metric_values
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    completion_id String,
    key LowCardinality(String),
    value Float64,
    category LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3),
    INDEX idx_completion_id completion_id TYPE bloom_filter(0.01) GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, key, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_preferences
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    key LowCardinality(String),
    preferred_completion_id String,
    other_completion_id String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, key, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_training_steps
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    run_id String,
    step UInt64,
    metrics Map(LowCardinality(String), Float64),
    tables String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, run_id, step, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_api_costs
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    run_id String,
    completion_id String,
    step Nullable(UInt64),
    split LowCardinality(String),
    source LowCardinality(String),
    provider LowCardinality(String),
    model LowCardinality(String),
    usage Tuple(
        input_tokens UInt64,
        output_tokens UInt64,
        cached_input_tokens UInt64,
        cache_creation_input_tokens UInt64),
    cost_usd Nullable(Float64),
    price_version LowCardinality(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_gpu_costs
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    run_id String,
    step Nullable(UInt64),
    split LowCardinality(String),
    gpu_type LowCardinality(String),
    gpu_count UInt32,
    seconds Float64,
    price_per_hour_usd Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, run_id, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS raw_instrument_points
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    name LowCardinality(String),
    instrument LowCardinality(String),
    unit LowCardinality(String),
    description String,
    temporality LowCardinality(String),
    value Nullable(Float64),
    histogram Tuple(
        bounds Array(Float64),
        counts Array(UInt64),
        sum Float64,
        count UInt64,
        min Nullable(Float64),
        max Nullable(Float64)),
    attributes Map(LowCardinality(String), String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toDate(time)
ORDER BY (project, name, time, event_id)
TTL toDateTime(time) + INTERVAL ${RAW_RETENTION_DAYS} DAY
SETTINGS non_replicated_deduplication_window = 10000;

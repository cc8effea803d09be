-- Tables for what the pipeline itself publishes: rollup partials and final
-- windows, training history, dead letters and alert transitions. Column names
-- equal the record's fields so the sink stores them as JSONEachRow.

CREATE TABLE IF NOT EXISTS inference_rollups
(
    kind LowCardinality(String),
    schema_version UInt8,
    project LowCardinality(String),
    model LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_seconds UInt32,
    partial Bool,
    source_partition Nullable(Int32),
    count UInt64,
    errors Map(LowCardinality(String), UInt64),
    input_tokens UInt64,
    output_tokens UInt64,
    cached_tokens UInt64,
    cost_usd Float64,
    latency_sketch String,
    ttft_sketch String,
    decode_seconds Float64,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, model, window_seconds, window_start)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS training_history
(
    kind LowCardinality(String),
    schema_version UInt8,
    project LowCardinality(String),
    run_id String,
    step UInt64,
    metrics Map(LowCardinality(String), Float64),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (project, run_id, step)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS dead_letters
(
    kind LowCardinality(String),
    schema_version UInt8,
    time DateTime64(6, 'UTC'),
    source_topic LowCardinality(String),
    partition Int32,
    offset Int64,
    line Nullable(UInt32),
    reason String,
    payload String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
PARTITION BY toDate(time)
ORDER BY (source_topic, time)
TTL toDateTime(time) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS alerts
(
    kind LowCardinality(String),
    schema_version UInt8,
    time DateTime64(6, 'UTC'),
    rule_id String,
    dedup_key String,
    state LowCardinality(String),
    severity LowCardinality(String),
    project LowCardinality(String),
    `group` Map(LowCardinality(String), String),
    value Nullable(Float64),
    threshold Nullable(Float64),
    summary String,
    annotations Map(LowCardinality(String), String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(time)
ORDER BY (dedup_key, state, time)
SETTINGS non_replicated_deduplication_window = 10000;

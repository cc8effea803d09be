-- Rollup partials keyed by their partial id: a replayed partial replaces itself
-- (ReplacingMergeTree), and queries merge partials under FINAL with sum and
-- sumMap -- the sketch bins merge exactly as the stream merges them.
-- Replaces 0003's inference_rollups, which nothing wrote yet.

DROP TABLE IF EXISTS inference_rollups;

CREATE TABLE IF NOT EXISTS inference_rollup_partials
(
    kind LowCardinality(String),
    schema_version UInt8,
    project LowCardinality(String),
    model LowCardinality(String),
    window_start DateTime64(3, 'UTC'),
    window_seconds UInt32,
    partial_id String,
    partial Bool,
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
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (project, model, window_seconds, window_start, partial_id)
SETTINGS non_replicated_deduplication_window = 10000;

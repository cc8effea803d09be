-- Registries keep the latest record per key (ReplacingMergeTree on event
-- time); a `deleted` row is a tombstone. No TTL: a key or run lives until deleted.

CREATE TABLE IF NOT EXISTS metric_keys
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    key String,
    value_kind LowCardinality(String),
    scoring LowCardinality(String),
    category LowCardinality(String),
    description String,
    deleted Bool,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (project, key)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS metric_definitions
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    definition_id String,
    name String,
    definition_type LowCardinality(String),
    predefined String,
    grader_key String,
    expression String,
    applies_to LowCardinality(String),
    scoring LowCardinality(String),
    active Bool,
    deleted Bool,
    description String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (project, definition_id)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS training_runs
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    run_id String,
    name String,
    recipe LowCardinality(String),
    config String,
    status LowCardinality(String),
    tags Array(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (project, run_id)
SETTINGS non_replicated_deduplication_window = 10000;

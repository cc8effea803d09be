-- Alert rules and silences managed through the CLI and the HTTP API (the
-- `meterstream.registry.alert_config` topic): the latest record per item is in force.
CREATE TABLE IF NOT EXISTS alert_config
(
    schema_version UInt8,
    event_id UUID,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    item LowCardinality(String),
    item_id String,
    spec String,
    deleted Bool,
    author String,
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(time)
ORDER BY (project, item, item_id)
SETTINGS non_replicated_deduplication_window = 10000;

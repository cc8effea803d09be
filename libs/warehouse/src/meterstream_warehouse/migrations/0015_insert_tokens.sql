-- Every raw row carries the dedup token of the insert that wrote it, so the sink can count
-- what a table kept of a batch: a row the table dropped on insert (a TTL that has already
-- passed, or anything else) is noticed and dead-lettered instead of vanishing unseen. A
-- retried insert that ClickHouse dropped as a duplicate finds the first one's rows.
-- Rows written before this migration read an empty token.

ALTER TABLE raw_completions
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_grader_scores
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_metric_values
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_preferences
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_training_steps
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_api_costs
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_gpu_costs
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

ALTER TABLE raw_instrument_points
    ADD COLUMN IF NOT EXISTS insert_token LowCardinality(String)
        DEFAULT getSetting('insert_deduplication_token'),
    ADD INDEX IF NOT EXISTS idx_insert_token insert_token TYPE bloom_filter(0.001) GRANULARITY 1;

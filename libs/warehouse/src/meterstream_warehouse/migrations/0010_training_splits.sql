-- Training logs as ART makes them: several splits may log one step, each its own history
-- row (ordered by `seq`, the log's place in the run); spend names the log it belongs to.
ALTER TABLE raw_training_steps
    ADD COLUMN IF NOT EXISTS split LowCardinality(String) DEFAULT 'train',
    ADD COLUMN IF NOT EXISTS builder_metrics Map(LowCardinality(String), Float64),
    ADD COLUMN IF NOT EXISTS log_id Nullable(UUID);
ALTER TABLE raw_api_costs ADD COLUMN IF NOT EXISTS log_id Nullable(UUID);
ALTER TABLE raw_gpu_costs ADD COLUMN IF NOT EXISTS log_id Nullable(UUID);
ALTER TABLE training_history
    ADD COLUMN IF NOT EXISTS split LowCardinality(String) DEFAULT 'train' AFTER step,
    ADD COLUMN IF NOT EXISTS seq UInt64 AFTER split,
    ADD COLUMN IF NOT EXISTS revision UInt32 DEFAULT 1 AFTER seq,
    MODIFY ORDER BY (project, run_id, step, seq);

-- Costs to the cent: one-hour cache writes and the cost a provider reported on each call;
-- on each ledger line, what priced it, the token kinds priced apart and the reported cost.
ALTER TABLE raw_completions
    ADD COLUMN IF NOT EXISTS cache_creation_1h_tokens UInt64 DEFAULT 0 AFTER cache_creation_tokens,
    ADD COLUMN IF NOT EXISTS reported_cost_usd Nullable(Float64) AFTER reasoning_tokens;

ALTER TABLE cost_ledger
    ADD COLUMN IF NOT EXISTS cost_source LowCardinality(String)
        DEFAULT multiIf(price_version = '', 'unpriced', price_version = 'reported', 'reported',
                        cost_kind = 'gpu_cost', 'gpu', 'registry') AFTER price_version,
    ADD COLUMN IF NOT EXISTS cache_write_1h_tokens Int64 DEFAULT 0 AFTER cache_write_tokens,
    ADD COLUMN IF NOT EXISTS reasoning_tokens Int64 DEFAULT 0 AFTER cache_write_1h_tokens,
    ADD COLUMN IF NOT EXISTS reported_cost_usd Float64 DEFAULT 0 AFTER cost_usd;

-- Calls no price was known for, per window: what the unpriced-calls alert watches.
ALTER TABLE inference_rollup_partials ADD COLUMN IF NOT EXISTS unpriced Int64 DEFAULT 0 AFTER cost_usd;
ALTER TABLE inference_windows ADD COLUMN IF NOT EXISTS unpriced Int64 DEFAULT 0 AFTER cost_usd;

-- An api_cost's usage keeps one-hour cache writes and reasoning tokens too.
ALTER TABLE raw_api_costs MODIFY COLUMN usage Tuple(
    input_tokens UInt64,
    output_tokens UInt64,
    cached_input_tokens UInt64,
    cache_creation_input_tokens UInt64,
    cache_creation_1h_input_tokens UInt64,
    reasoning_tokens UInt64);

-- Cache writes and reasoning tokens of a call (OpenTelemetry GenAI spans, provider usage).
ALTER TABLE raw_completions
    ADD COLUMN IF NOT EXISTS cache_creation_tokens UInt64 DEFAULT 0 AFTER cached_tokens,
    ADD COLUMN IF NOT EXISTS reasoning_tokens UInt64 DEFAULT 0 AFTER cache_creation_tokens;

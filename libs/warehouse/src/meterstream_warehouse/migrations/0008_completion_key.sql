-- A fixed-width join key for feedback → completion look-ups: a 64-bit hash of the
-- completion id, computed at insert (parts stored earlier compute it on read). Joining
-- feedback to the completions of a time range reads this column instead of the ids.
ALTER TABLE raw_completions
    ADD COLUMN IF NOT EXISTS completion_key UInt64 MATERIALIZED cityHash64(completion_id);

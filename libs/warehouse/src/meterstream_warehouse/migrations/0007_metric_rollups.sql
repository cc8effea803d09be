-- Every numeric measurement as a metric point (project, category, metric,
-- model, time, value, labels), and its rollups per minute, hour and day.
--
-- `metric_points` reads the raw tables under FINAL (replays collapsed): the
-- query layer reads it for short ranges. Materialised views fold each insert
-- into `metric_rollups_1m`, which feeds `_1h`, which feeds `_1d`: the query
-- layer reads those for long ranges. Sums, counts, min, max and a signed
-- quantile sketch (relative error 1%) are all mergeable, so a coarser
-- rollup is exactly the merge of the finer one.
--
-- Sketch bin of a value v (the same expression everywhere below; the query
-- layer's `meterstream_query.sketch_sql` reads it back):
--   v >= 1e-9   -> ceil(log(v) / log(g)),            g = 1.01 / 0.99
--   v <= -1e-9  -> -1000000 - ceil(log(-v) / log(g))
--   otherwise   -> -500000 (zero)
-- so bins sort in the order of the values they hold.
--
-- A retried insert carries its dedup token into these views
-- (deduplicate_blocks_in_dependent_materialized_views), so the rollups see a
-- retried batch once, as the raw tables do.

CREATE TABLE IF NOT EXISTS metric_rollups_1m
(
    project LowCardinality(String),
    category LowCardinality(String),
    metric LowCardinality(String),
    model LowCardinality(String),
    bucket DateTime('UTC'),
    count SimpleAggregateFunction(sum, UInt64),
    total SimpleAggregateFunction(sum, Float64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    bins SimpleAggregateFunction(sumMap, Map(Int32, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(bucket)
ORDER BY (project, category, metric, model, bucket);

CREATE TABLE IF NOT EXISTS metric_rollups_1h AS metric_rollups_1m;

CREATE TABLE IF NOT EXISTS metric_rollups_1d AS metric_rollups_1m;

CREATE VIEW IF NOT EXISTS metric_points AS
SELECT project, 'system' AS category, point.1 AS metric, model, time,
       assumeNotNull(point.2) AS value, labels
FROM raw_completions FINAL
ARRAY JOIN arrayFilter(p -> isNotNull(p.2), [
    ('calls', toNullable(1.)),
    ('latency_ms', toNullable(latency_ms)),
    ('ttft_ms', ttft_ms),
    ('input_tokens', toNullable(toFloat64(input_tokens))),
    ('output_tokens', toNullable(toFloat64(output_tokens))),
    ('cached_tokens', toNullable(toFloat64(cached_tokens))),
    ('error', toNullable(toFloat64(status != 'ok')))]) AS point
UNION ALL
SELECT project, 'grader' AS category, key AS metric, '' AS model, time, value,
       map('grader', grader_name) AS labels
FROM raw_grader_scores FINAL
UNION ALL
SELECT project, category, key AS metric, '' AS model, time, value,
       CAST(map(), 'Map(LowCardinality(String), String)') AS labels
FROM raw_metric_values FINAL
UNION ALL
SELECT project, 'instrument' AS category, name AS metric, '' AS model, time,
       assumeNotNull(coalesce(value, histogram.sum / histogram.count)) AS value,
       attributes AS labels
FROM raw_instrument_points FINAL
WHERE value IS NOT NULL OR histogram.count > 0;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1m_from_completions TO metric_rollups_1m AS
SELECT project, 'system' AS category, point.1 AS metric, model,
       toStartOfMinute(time) AS bucket,
       count() AS count,
       sum(assumeNotNull(point.2)) AS total,
       min(assumeNotNull(point.2)) AS min,
       max(assumeNotNull(point.2)) AS max,
       sumMap(map(multiIf(
           assumeNotNull(point.2) >= 1e-9, toInt32(ceil(log(assumeNotNull(point.2)) / log(1.02020202020202))),
           assumeNotNull(point.2) <= -1e-9, toInt32(-1000000 - ceil(log(-assumeNotNull(point.2)) / log(1.02020202020202))),
           toInt32(-500000)), toUInt64(1))) AS bins
FROM raw_completions
ARRAY JOIN arrayFilter(p -> isNotNull(p.2), [
    ('calls', toNullable(1.)),
    ('latency_ms', toNullable(latency_ms)),
    ('ttft_ms', ttft_ms),
    ('input_tokens', toNullable(toFloat64(input_tokens))),
    ('output_tokens', toNullable(toFloat64(output_tokens))),
    ('cached_tokens', toNullable(toFloat64(cached_tokens))),
    ('error', toNullable(toFloat64(status != 'ok')))]) AS point
GROUP BY project, category, metric, model, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1m_from_grader_scores TO metric_rollups_1m AS
SELECT project, 'grader' AS category, key AS metric, '' AS model,
       toStartOfMinute(time) AS bucket,
       count() AS count, sum(value) AS total, min(value) AS min, max(value) AS max,
       sumMap(map(multiIf(
           value >= 1e-9, toInt32(ceil(log(value) / log(1.02020202020202))),
           value <= -1e-9, toInt32(-1000000 - ceil(log(-value) / log(1.02020202020202))),
           toInt32(-500000)), toUInt64(1))) AS bins
FROM raw_grader_scores
GROUP BY project, category, metric, model, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1m_from_metric_values TO metric_rollups_1m AS
SELECT project, category, key AS metric, '' AS model,
       toStartOfMinute(time) AS bucket,
       count() AS count, sum(value) AS total, min(value) AS min, max(value) AS max,
       sumMap(map(multiIf(
           value >= 1e-9, toInt32(ceil(log(value) / log(1.02020202020202))),
           value <= -1e-9, toInt32(-1000000 - ceil(log(-value) / log(1.02020202020202))),
           toInt32(-500000)), toUInt64(1))) AS bins
FROM raw_metric_values
GROUP BY project, category, metric, model, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1m_from_instruments TO metric_rollups_1m AS
SELECT project, 'instrument' AS category, name AS metric, '' AS model,
       toStartOfMinute(time) AS bucket,
       count() AS count, sum(v) AS total, min(v) AS min, max(v) AS max,
       sumMap(map(multiIf(
           v >= 1e-9, toInt32(ceil(log(v) / log(1.02020202020202))),
           v <= -1e-9, toInt32(-1000000 - ceil(log(-v) / log(1.02020202020202))),
           toInt32(-500000)), toUInt64(1))) AS bins
FROM
(
    SELECT project, name, time, assumeNotNull(coalesce(value, histogram.sum / histogram.count)) AS v
    FROM raw_instrument_points
    WHERE value IS NOT NULL OR histogram.count > 0
)
GROUP BY project, category, metric, model, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1h_from_1m TO metric_rollups_1h AS
SELECT project, category, metric, model, toStartOfHour(bucket) AS bucket,
       sum(count) AS count, sum(total) AS total, min(min) AS min, max(max) AS max,
       sumMap(bins) AS bins
FROM metric_rollups_1m
GROUP BY project, category, metric, model, bucket;

CREATE MATERIALIZED VIEW IF NOT EXISTS metric_rollups_1d_from_1h TO metric_rollups_1d AS
SELECT project, category, metric, model, toStartOfDay(bucket) AS bucket,
       sum(count) AS count, sum(total) AS total, min(min) AS min, max(max) AS max,
       sumMap(bins) AS bins
FROM metric_rollups_1h
GROUP BY project, category, metric, model, bucket;

-- Points stored before these views existed: folded in once, through the chain.
INSERT INTO metric_rollups_1m
SELECT project, category, metric, model, toStartOfMinute(time) AS bucket,
       count() AS count, sum(value) AS total, min(value) AS min, max(value) AS max,
       sumMap(map(multiIf(
           value >= 1e-9, toInt32(ceil(log(value) / log(1.02020202020202))),
           value <= -1e-9, toInt32(-1000000 - ceil(log(-value) / log(1.02020202020202))),
           toInt32(-500000)), toUInt64(1))) AS bins
FROM metric_points
GROUP BY project, category, metric, model, bucket;

-- `metric_points` kept instrument rows whose histogram was empty (a delta of an unchanged
-- cumulative series): its WHERE named `value`, which the SELECT's alias of the same name
-- shadowed, so every row passed and 0/0 put NaN into the sums. The filter now runs on
-- the table's columns, below the alias.
CREATE OR REPLACE VIEW metric_points AS
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
       assumeNotNull(coalesce(point_value, histogram.sum / histogram.count)) AS value,
       attributes AS labels
FROM
(
    SELECT project, name, time, value AS point_value, histogram, attributes
    FROM raw_instrument_points FINAL
    WHERE value IS NOT NULL OR histogram.count > 0
);

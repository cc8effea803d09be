-- Dead letters an operator can use: kept once per place in the log (a replay of the raw
-- topics dead-letters the same events again), with the payload as the text that was
-- sent and the project it names (so a project's analysts can read theirs).
CREATE TABLE IF NOT EXISTS dead_letters_by_place
(
    kind LowCardinality(String),
    schema_version UInt8,
    time DateTime64(6, 'UTC'),
    project LowCardinality(String),
    source_topic LowCardinality(String),
    partition Int32,
    offset Int64,
    line Nullable(UInt32),
    reason String,
    payload String,
    payload_text Nullable(String),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ingested_at)
ORDER BY (source_topic, partition, offset, ifNull(line, 4294967295))
TTL toDateTime(time) + INTERVAL 30 DAY;

INSERT INTO dead_letters_by_place
    (kind, schema_version, time, project, source_topic, partition, offset, line, reason,
     payload, payload_text, ingested_at)
SELECT kind, schema_version, time,
       JSONExtractString(ifNull(tryBase64Decode(payload), ''), 'project'),
       source_topic, partition, offset, line, reason, payload,
       if(isValidUTF8(tryBase64Decode(payload)), tryBase64Decode(payload), NULL),
       ingested_at
FROM dead_letters;

RENAME TABLE dead_letters TO dead_letters_before_0014, dead_letters_by_place TO dead_letters;

DROP TABLE dead_letters_before_0014;

-- Dead letters sent back to their topic by `meterstream dlq replay`: each at most once.
CREATE TABLE IF NOT EXISTS dead_letter_replays
(
    source_topic LowCardinality(String),
    partition Int32,
    offset Int64,
    line Int64,
    replayed_at DateTime64(3, 'UTC') DEFAULT now64(3),
    replayed_by String
)
ENGINE = ReplacingMergeTree
ORDER BY (source_topic, partition, offset, line);

-- Every record ClickHouse consumes from the score-event topic, byte for byte,
-- whatever its validity: the audit log of what arrived. ClickHouse's Kafka
-- engine delivers at least once, so a redelivered (partition, offset) replaces
-- its earlier copy.
CREATE DATABASE IF NOT EXISTS {{.Database}};

CREATE TABLE IF NOT EXISTS {{.Database}}.records
(
    src_partition UInt32,
    src_offset    UInt64,
    record_key    String,
    raw           String,
    record_ts     DateTime64(3, 'UTC'),
    consumed_at   DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (src_partition, src_offset);

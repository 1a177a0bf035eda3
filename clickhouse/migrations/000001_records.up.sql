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

-- Each message is read as one raw string (RawBLOB): ClickHouse's JSON input
-- formats would fill missing fields with defaults and accept quoted numbers,
-- so validation happens in SQL on the raw bytes, by the contract's grammar.
CREATE TABLE IF NOT EXISTS {{.Database}}.score_events_queue
(
    raw String
)
ENGINE = Kafka
SETTINGS
    kafka_broker_list = {{sql .Brokers}},
    kafka_topic_list = {{sql .Topic}},
    kafka_group_name = {{sql .Group}},
    kafka_format = 'RawBLOB',
    kafka_num_consumers = 1,
    kafka_flush_interval_ms = 500,
    kafka_max_block_size = 65536;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.score_events_queue_mv TO {{.Database}}.records AS
SELECT
    toUInt32(_partition) AS src_partition,
    _offset AS src_offset,
    _key AS record_key,
    raw,
    toDateTime64(ifNull(_timestamp_ms, toDateTime64(0, 3, 'UTC')), 3, 'UTC') AS record_ts
FROM {{.Database}}.score_events_queue;

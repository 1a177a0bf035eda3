-- The intake: ClickHouse's own consumer of the score-event topic, created
-- last. A Kafka engine table builds its insert pipeline (the views below it,
-- all the way down) when it starts streaming, and does not see views added
-- later until it is restarted: a migration that adds or changes views below
-- records must drop this intake first and create it again at its end.
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

-- Validation reads the intake directly rather than through records: with
-- the Kafka engine (chDB 26.7), views cascaded below records do not fire for
-- streamed blocks, while views of the Kafka table itself do. Records that
-- reach records by other means (backfills) go through to_validate explicitly.
DROP VIEW IF EXISTS {{.Database}}.to_validate_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS {{.Database}}.score_events_validate_mv TO {{.Database}}.to_validate AS
SELECT
    toUInt32(_partition) AS src_partition,
    _offset AS src_offset,
    _key AS record_key,
    raw,
    toDateTime64(ifNull(_timestamp_ms, toDateTime64(0, 3, 'UTC')), 3, 'UTC') AS record_ts
FROM {{.Database}}.score_events_queue;

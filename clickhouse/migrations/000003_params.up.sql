-- The configuration the migrations were rendered with. serve compares it
-- with its own at start: a service whose LEADERBOARD_MAX_CLOCK_SKEW, topic or
-- consumer group differ from what the SQL was rendered with would judge
-- records differently from ClickHouse, so it refuses to start.
CREATE TABLE IF NOT EXISTS {{.Database}}.schema_params
(
    name       String,
    value      String,
    updated_at DateTime64(3, 'UTC') DEFAULT now64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name;

INSERT INTO {{.Database}}.schema_params (name, value) VALUES
    ('max_clock_skew_ms', {{sql (printf "%d" .MaxSkewMillis)}}),
    ('topic', {{sql .Topic}}),
    ('clickhouse_group', {{sql .Group}}),
    ('clickhouse_brokers', {{sql .Brokers}});

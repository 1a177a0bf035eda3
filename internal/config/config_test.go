package config

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(nil))
	require.NoError(t, err)
	assert.Equal(t, ":8080", c.HTTPAddr)
	assert.True(t, c.EmbeddedKafka())
	assert.True(t, c.EmbeddedClickHouse())
	assert.Equal(t, []string{"127.0.0.1:19092"}, c.Brokers())
	assert.Equal(t, []string{"127.0.0.1:19092"}, c.BrokersForClickHouse())
	assert.Equal(t, "leaderboard.score-events", c.Topic)
	assert.Equal(t, "leaderboard.score-events.dlq", c.DLQTopic())
	assert.Equal(t, "./data", c.DataDir)
	assert.Equal(t, "127.0.0.1:6379", c.ValkeyAddr)
	assert.Equal(t, 5*time.Minute, c.MaxClockSkew)
	assert.Equal(t, int32(3), c.KafkaPartitions)
}

func TestServerMode(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LEADERBOARD_KAFKA_BROKERS":            "k1:9092, k2:9092",
		"LEADERBOARD_CLICKHOUSE_KAFKA_BROKERS": "kafka:29092",
		"LEADERBOARD_CLICKHOUSE_DSN":           "clickhouse://app:s3cret@ch:9000/default",
	}))
	require.NoError(t, err)
	assert.False(t, c.EmbeddedKafka())
	assert.False(t, c.EmbeddedClickHouse())
	assert.Equal(t, []string{"k1:9092", "k2:9092"}, c.Brokers())
	assert.Equal(t, []string{"kafka:29092"}, c.BrokersForClickHouse())
}

func TestInvalid(t *testing.T) {
	cases := []struct {
		name, variable, value string
	}{
		{"http addr without port", "LEADERBOARD_HTTP_ADDR", "nonsense"},
		{"http port out of range", "LEADERBOARD_HTTP_ADDR", ":70000"},
		{"broker without port", "LEADERBOARD_KAFKA_BROKERS", "kafka"},
		{"embedded addr port zero", "LEADERBOARD_EMBEDDED_KAFKA_ADDR", "127.0.0.1:0"},
		{"partitions zero", "LEADERBOARD_KAFKA_PARTITIONS", "0"},
		{"partitions not a number", "LEADERBOARD_KAFKA_PARTITIONS", "three"},
		{"topic with a space", "LEADERBOARD_TOPIC", "score events"},
		{"database with a dash", "LEADERBOARD_CLICKHOUSE_DATABASE", "lead-board"},
		{"skew not a duration", "LEADERBOARD_MAX_CLOCK_SKEW", "5"},
		{"skew negative", "LEADERBOARD_MAX_CLOCK_SKEW", "-1m"},
		{"horizon too short", "LEADERBOARD_DEDUP_HORIZON", "1h"},
		{"same consumer groups", "LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP", "leaderboard-service"},
		{"log level", "LEADERBOARD_LOG_LEVEL", "loud"},
		{"valkey addr", "LEADERBOARD_VALKEY_ADDR", "localhost"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.variable: tc.value}))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.variable)
		})
	}
}

func TestLogValueMasksSecrets(t *testing.T) {
	c, err := Load(env(map[string]string{
		"LEADERBOARD_CLICKHOUSE_DSN":  "clickhouse://app:s3cret@ch:9000/default",
		"LEADERBOARD_INGEST_TOKEN":    "ingest-secret",
		"LEADERBOARD_ADMIN_TOKEN":     "admin-secret",
		"LEADERBOARD_VALKEY_PASSWORD": "vk-secret",
	}))
	require.NoError(t, err)
	s := c.LogValue().String()
	for _, secret := range []string{"s3cret", "ingest-secret", "admin-secret", "vk-secret"} {
		assert.NotContains(t, s, secret)
	}
	assert.Contains(t, s, "clickhouse://app:****@ch:9000/default")
}

// The README's configuration table documents every variable with its default.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, v := range Vars {
		def := "empty"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		assert.True(t, strings.Contains(string(readme), "| `"+v.Name+"` | "+def+" |"), "README row for %s with default %s", v.Name, def)
	}
}

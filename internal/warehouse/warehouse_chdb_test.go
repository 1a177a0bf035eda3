//go:build chdb

package warehouse_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/broker"
	"example.com/leaderboard/internal/warehouse"
)

// One chDB engine per process: the package's tests share it.
var store *warehouse.Store

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "warehouse-test-")
	if err != nil {
		panic(err)
	}
	store, err = warehouse.OpenEmbedded(filepath.Join(dir, "clickhouse"), "lbtest")
	if err != nil {
		panic(err)
	}
	code := m.Run()
	store.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestEmbeddedKafkaIntoClickHouse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	kafka, err := broker.StartEmbedded("127.0.0.1:0", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(kafka.Close)
	adm, err := broker.NewAdmin([]string{kafka.Addr()})
	require.NoError(t, err)
	defer adm.Close()
	const topic = "wh-test.score-events"
	require.NoError(t, broker.EnsureTopics(ctx, adm, 3, topic, topic+".dlq"))

	mig, err := store.NewMigrator(warehouse.SchemaParams{
		Database: "lbtest", Topic: topic, Brokers: kafka.Addr(), Group: "wh-test-clickhouse", MaxSkewMillis: 300000,
	})
	require.NoError(t, err)
	require.ErrorIs(t, mig.Check(), warehouse.ErrSchemaBehind)
	require.NoError(t, mig.Up())
	require.NoError(t, mig.Check())
	require.NoError(t, mig.Up(), "up twice is a no-op")
	// Cleanups run last-in first-out: the intake stops before its broker.
	t.Cleanup(func() { _ = mig.Down() })

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addr()))
	require.NoError(t, err)
	defer cl.Close()
	value := `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"2026-12-02T10:00:00Z"}`
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Key: []byte("b1:amy"), Value: []byte(value)})
	require.NoError(t, res.FirstErr())
	rec, _ := res.First()

	require.Eventually(t, func() bool {
		var n uint64
		err := store.DB().QueryRowContext(ctx, "SELECT count() FROM lbtest.records").Scan(&n)
		return err == nil && n == 1
	}, 30*time.Second, 100*time.Millisecond, "ClickHouse's Kafka engine consumes the record")

	var (
		key, raw  string
		partition uint32
		offset    uint64
		tsMillis  int64
	)
	require.NoError(t, store.DB().QueryRowContext(ctx,
		"SELECT record_key, raw, src_partition, src_offset, toUnixTimestamp64Milli(record_ts) FROM lbtest.records").
		Scan(&key, &raw, &partition, &offset, &tsMillis))
	assert.Equal(t, "b1:amy", key)
	assert.Equal(t, value, raw)
	assert.Equal(t, uint32(rec.Partition), partition)
	assert.Equal(t, uint64(rec.Offset), offset)
	assert.Equal(t, rec.Timestamp.UnixMilli(), tsMillis)
}

func TestEmbeddedEngineHasNoJIT(t *testing.T) {
	for _, setting := range []string{"compile_expressions", "compile_aggregate_expressions"} {
		var v string
		require.NoError(t, store.DB().QueryRow("SELECT toString(getSetting('"+setting+"'))").Scan(&v))
		assert.Contains(t, []string{"0", "false"}, v, setting)
	}
}

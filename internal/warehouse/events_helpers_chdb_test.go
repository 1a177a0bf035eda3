//go:build chdb

package warehouse_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// eventsSchema renders the migrations for the tests of migration 000002. The
// broker list is never dialled by these tests: they insert into records
// directly, as the Kafka engine's view does.
var eventsSchema = warehouse.SchemaParams{
	Database: "lbtest", Topic: "wh-test.score-events", Brokers: "127.0.0.1:9", Group: "wh-test-clickhouse",
	MaxSkewMillis: 300000,
}

// maxSkew is eventsSchema.MaxSkewMillis for ParseEvent.
const maxSkew = 5 * time.Minute

// migrateEvents brings lbtest to the latest schema (idempotent). When the
// database was not migrated at all, it reverts every migration when the test
// ends, so each test starts from empty tables and the package's other tests
// (TestEmbeddedKafkaIntoClickHouse expects an unmigrated engine and exactly
// its own record) see the engine as if they ran alone.
func migrateEvents(t *testing.T) *warehouse.Migrator {
	t.Helper()
	mig, err := store.NewMigrator(eventsSchema)
	require.NoError(t, err)
	v, dirty, _, err := mig.Version()
	require.NoError(t, err)
	require.False(t, dirty, "schema is dirty")
	require.NoError(t, mig.Up())
	if v == 0 {
		t.Cleanup(func() { assert.NoError(t, mig.Down()) })
	}
	return mig
}

// rec is one row of lbtest.records, as the Kafka engine's view writes it.
type rec struct {
	partition uint32
	offset    uint64
	key       []byte
	value     []byte
	tsMS      int64
}

// sqlBytes renders b as a ClickHouse string literal, every byte escaped, so
// any bytes (NUL, invalid UTF-8, quotes, backslashes) arrive unchanged.
func sqlBytes(b []byte) string {
	var sb strings.Builder
	sb.Grow(2 + 4*len(b))
	sb.WriteByte('\'')
	for _, c := range b {
		fmt.Fprintf(&sb, `\x%02X`, c)
	}
	sb.WriteByte('\'')
	return sb.String()
}

// insertRecords writes recs as ClickHouse's Kafka intake does, in one INSERT
// per table, hence one block through the materialized views: into records
// (the audit log) and into the validation. Migration 000002 validates what
// is inserted into records (to_validate_mv); from 000004 on, the intake
// feeds to_validate directly, and to_validate_mv is gone.
func insertRecords(t *testing.T, recs ...rec) {
	t.Helper()
	if len(recs) == 0 {
		return
	}
	var sb strings.Builder
	for i, r := range recs {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "(%d, %d, %s, %s, '%s')", r.partition, r.offset, sqlBytes(r.key), sqlBytes(r.value),
			time.UnixMilli(r.tsMS).UTC().Format("2006-01-02 15:04:05.000"))
	}
	values := sb.String()
	ctx := context.Background()
	tables := []string{"records"}
	if queryInt64(t, "SELECT toInt64(countIf(name = 'to_validate') > 0 AND countIf(name = 'to_validate_mv') = 0) "+
		"FROM system.tables WHERE database = 'lbtest'") == 1 {
		tables = append(tables, "to_validate")
	}
	for _, table := range tables {
		_, err := store.DB().ExecContext(ctx,
			"INSERT INTO lbtest."+table+" (src_partition, src_offset, record_key, raw, record_ts) VALUES "+values)
		require.NoError(t, err)
	}
}

// scanAll runs q and calls scan for each row.
func scanAll(t *testing.T, q string, scan func(rows *sql.Rows) error, args ...any) {
	t.Helper()
	rows, err := store.DB().QueryContext(context.Background(), q, args...)
	require.NoError(t, err, q)
	defer rows.Close()
	for rows.Next() {
		require.NoError(t, scan(rows), q)
	}
	require.NoError(t, rows.Err(), q)
}

// queryInt64 runs a query returning one Int64.
func queryInt64(t *testing.T, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, store.DB().QueryRowContext(context.Background(), q, args...).Scan(&n), q)
	return n
}

// sqlRow is what ClickHouse stored for one source offset: a delivery of a
// valid event or a rejection.
type sqlRow struct {
	valid                         bool
	board, player, eventID        string
	score, occurredMS             int64
	metadata, fingerprint         string
	reason, message, key, rawText string
}

// storedVerdicts returns, per offset of partition, what deliveries and
// rejected_events hold; an offset found in both is an error.
func storedVerdicts(t *testing.T, partition uint32) map[uint64]sqlRow {
	t.Helper()
	out := map[uint64]sqlRow{}
	scanAll(t, "SELECT src_offset, board_id, player_id, event_id, score, toUnixTimestamp64Milli(occurred_at), metadata, fingerprint "+
		"FROM lbtest.deliveries FINAL WHERE src_partition = ?", func(rows *sql.Rows) error {
		var (
			off uint64
			r   sqlRow
		)
		if err := rows.Scan(&off, &r.board, &r.player, &r.eventID, &r.score, &r.occurredMS, &r.metadata, &r.fingerprint); err != nil {
			return err
		}
		r.valid = true
		if _, dup := out[off]; dup {
			return fmt.Errorf("offset %d delivered twice", off)
		}
		out[off] = r
		return nil
	}, partition)
	scanAll(t, "SELECT src_offset, toString(reason), message FROM lbtest.rejected_events FINAL WHERE src_partition = ?",
		func(rows *sql.Rows) error {
			var (
				off uint64
				r   sqlRow
			)
			if err := rows.Scan(&off, &r.reason, &r.message); err != nil {
				return err
			}
			if _, dup := out[off]; dup {
				return fmt.Errorf("offset %d both accepted and rejected, or rejected twice", off)
			}
			out[off] = r
			return nil
		}, partition)
	return out
}

// goVerdict is ParseEvent's answer for a Kafka record, as the service's
// consumer judges it.
func goVerdict(key, value []byte, tsMS int64) (string, leaderboard.Event) {
	e, err := leaderboard.ParseEvent(value, leaderboard.RecordContext{
		Key: key, CheckKey: true, Timestamp: time.UnixMilli(tsMS), MaxSkew: maxSkew,
	})
	if err != nil {
		return string(err.(*leaderboard.InvalidEventError).Reason), leaderboard.Event{}
	}
	return "valid", e
}

// short quotes b for a failure message, cut to a readable length.
func short(b []byte) string {
	if len(b) > 300 {
		return fmt.Sprintf("%q... (%d bytes)", b[:300], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// agree checks that ClickHouse stored what ParseEvent says of the record.
func agree(t *testing.T, what string, r rec, got sqlRow, found bool) bool {
	t.Helper()
	want, e := goVerdict(r.key, r.value, r.tsMS)
	value := short(r.value)
	if !assert.True(t, found, "%s: offset %d is neither accepted nor rejected: %s", what, r.offset, value) {
		return false
	}
	if !got.valid {
		return assert.Equal(t, want, got.reason, "%s: reason for %s (key %q, message %q)", what, value, r.key, got.message) &&
			assert.NotEmpty(t, got.message, "%s: message", what)
	}
	if !assert.Equal(t, want, "valid", "%s: ClickHouse accepted %s (key %q)", what, value, r.key) {
		return false
	}
	ok := assert.Equal(t, e.BoardID, got.board, "%s: leaderboard_id of %s", what, value)
	ok = assert.Equal(t, e.PlayerID, got.player, "%s: player_id of %s", what, value) && ok
	ok = assert.Equal(t, e.EventID, got.eventID, "%s: event_id of %s", what, value) && ok
	ok = assert.Equal(t, e.Score, got.score, "%s: score of %s", what, value) && ok
	ok = assert.Equal(t, e.OccurredAt.UnixMilli(), got.occurredMS, "%s: occurred_at of %s", what, value) && ok
	ok = assert.Equal(t, string(e.Metadata), got.metadata, "%s: metadata of %s", what, value) && ok
	ok = assert.Equal(t, e.Fingerprint(), got.fingerprint, "%s: fingerprint of %s", what, value) && ok
	return ok
}

// Score events for the ranking tests.

// day is D of the tests: a Wednesday, so D-1 is in the same ISO week (which
// starts on Monday 2026-11-30) and D-7 in the previous one.
var day = time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)

// at returns day + offset in days + a clock time "15:04".
func at(days int, clock string) time.Time {
	c, err := time.Parse("15:04", clock)
	if err != nil {
		panic(err)
	}
	return day.AddDate(0, 0, days).Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute)
}

// event builds a valid record of the event at (partition, offset), produced
// one minute after it occurred, with the right key.
func event(partition uint32, offset uint64, id, board, player string, score int64, occurred time.Time, metadata string) rec {
	e := leaderboard.Event{EventID: id, BoardID: board, PlayerID: player, Score: score, OccurredAt: occurred}
	if metadata != "" {
		e.Metadata = []byte(metadata)
	}
	v, err := e.RecordValue()
	if err != nil {
		panic(err)
	}
	return rec{partition: partition, offset: offset, key: []byte(e.Key()), value: v, tsMS: occurred.Add(time.Minute).UnixMilli()}
}

// at offset returns r delivered again at another offset (a producer retry).
func (r rec) at(offset uint64) rec {
	r.offset = offset
	return r
}

// standing is a compact expected ranking entry.
type standing struct {
	player  string
	score   int64
	reached time.Time
}

func standings(t *testing.T, board string, w leaderboard.Window, agg leaderboard.Aggregation) []standing {
	t.Helper()
	got, err := store.Standings(context.Background(), board, w, agg)
	require.NoError(t, err)
	out := make([]standing, 0, len(got))
	for _, s := range got {
		require.Equal(t, time.UTC, s.ReachedAt.Location())
		out = append(out, standing{s.PlayerID, s.Score, s.ReachedAt})
	}
	return out
}

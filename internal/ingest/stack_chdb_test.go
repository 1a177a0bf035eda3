//go:build chdb

package ingest_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// dayD is yesterday (UTC) when the test starts, as in cases.md.
func dayD() time.Time {
	return leaderboard.DailyWindow(time.Now().UTC()).Start.AddDate(0, 0, -1)
}

// at returns D at hh:mm[:ss].
func at(clock string) time.Time {
	t, err := time.Parse("15:04:05", clock)
	if err != nil {
		t, err = time.Parse("15:04", clock)
	}
	if err != nil {
		panic(err)
	}
	d := dayD()
	return d.Add(time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute + time.Duration(t.Second())*time.Second)
}

func value(id, board, player string, score int64, occurred time.Time) []byte {
	return []byte(fmt.Sprintf(`{"event_id":%q,"leaderboard_id":%q,"player_id":%q,"score":%d,"occurred_at":%q}`,
		id, board, player, score, leaderboard.FormatTime(occurred)))
}

func rec(id, board, player string, score int64, occurred time.Time) *kgo.Record {
	return &kgo.Record{Key: []byte(board + ":" + player), Value: value(id, board, player, score, occurred)}
}

type row struct {
	player string
	score  int64
}

// expectBoth checks daily D, weekly W and all-time in both stores.
func expectBoth(t *testing.T, s *stacktest.Stack, board string, want []row) {
	t.Helper()
	for _, w := range leaderboard.StandardWindows(dayD()) {
		cache, clickhouse := read(t, s, board, w)
		require.Equal(t, want, cache, "valkey, %s window", w.Type)
		require.Equal(t, want, clickhouse, "clickhouse, %s window", w.Type)
	}
}

func read(t *testing.T, s *stacktest.Stack, board string, w leaderboard.Window) (cache, clickhouse []row) {
	t.Helper()
	ctx := context.Background()
	page, err := s.Hot.RangePage(ctx, board, w, 0, 1000)
	require.NoError(t, err)
	for i, e := range page.Entries {
		require.Equal(t, int64(i+1), e.Rank)
		cache = append(cache, row{e.PlayerID, e.Score})
	}
	agg, _, err := s.Store.BoardAggregation(ctx, board)
	require.NoError(t, err)
	if agg == "" {
		agg = leaderboard.Sum
	}
	st, err := s.Store.Standings(ctx, board, w, agg)
	require.NoError(t, err)
	for _, e := range st {
		clickhouse = append(clickhouse, row{e.PlayerID, e.Score})
	}
	return cache, clickhouse
}

func TestRedeliveryAfterRestart(t *testing.T) { // cases.md C1, at the consumer level
	s := stacktest.Start(t, stacktest.Options{})
	e1 := rec("e1", "b1", "amy", 100, at("10:00"))
	s.Produce(e1, rec("e2", "b1", "bob", 50, at("10:01")))
	s.WaitConsumed()
	s.StopConsumer()
	s.StartConsumer(nil)
	s.Produce(rec("e1", "b1", "amy", 100, at("10:00"))) // byte for byte
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"amy", 100}, {"bob", 50}})
}

func TestDuplicateInLaterBlock(t *testing.T) { // C2
	s := stacktest.Start(t, stacktest.Options{})
	s.Produce(rec("e1", "b1", "amy", 100, at("10:00")))
	s.WaitConsumed()
	time.Sleep(1500 * time.Millisecond) // a separate ClickHouse block
	s.Produce(rec("e1", "b1", "amy", 100, at("10:00")))
	s.WaitConsumed()
	s.Produce(rec("e2", "b1", "amy", 50, at("11:00")))
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"amy", 150}})
}

func TestNegativeScores(t *testing.T) { // C3
	s := stacktest.Start(t, stacktest.Options{})
	s.Produce(rec("e1", "b1", "amy", 100, at("10:00")), rec("e2", "b1", "amy", -30, at("10:05")), rec("e3", "b1", "bob", 10, at("10:06")))
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"amy", 70}, {"bob", 10}})
	assert.Zero(t, counter(t, s, "leaderboard_records_rejected_total"))
}

func TestPoisonRecords(t *testing.T) { // C4
	s := stacktest.Start(t, stacktest.Options{Partitions: 1})
	cut := []byte(`{"event_id":"e2","score":`)
	wrongType := []byte(`{"event_id":"e3","leaderboard_id":"b1","player_id":"amy","score":"abc","occurred_at":"` + leaderboard.FormatTime(at("10:00")) + `"}`)
	out := s.Produce(
		rec("e1", "b1", "amy", 10, at("10:00")),
		&kgo.Record{Key: []byte("b1:amy"), Value: cut},
		&kgo.Record{Key: []byte("b1:amy"), Value: wrongType},
		rec("e4", "b1", "bob", 20, at("10:01")),
	)
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"bob", 20}, {"amy", 10}})

	// The DLQ holds both bad records, original key and bytes, with the headers.
	dlq := consumeAll(t, s, stacktest.Topic+".dlq", 2)
	wants := []struct {
		value  []byte
		reason string
		offset int64
	}{{cut, "malformed_json", out[1].Offset}, {wrongType, "invalid_field", out[2].Offset}}
	for i, w := range wants {
		assert.Equal(t, w.value, dlq[i].Value)
		assert.Equal(t, "b1:amy", string(dlq[i].Key))
		h := headers(dlq[i])
		assert.Equal(t, w.reason, h["reason"])
		assert.Equal(t, "0", h["source-partition"])
		assert.Equal(t, strconv.FormatInt(w.offset, 10), h["source-offset"])
		reason, found, err := s.Store.Rejected(context.Background(), 0, w.offset)
		require.NoError(t, err)
		require.True(t, found)
		assert.Equal(t, w.reason, reason)
	}
	assert.Equal(t, int64(2), queryInt(t, s, "SELECT count() FROM "+s.Database+".rejected_events FINAL"))

	// Later valid records keep flowing.
	s.Produce(rec("e5", "b1", "bob", 1, at("10:02")))
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"bob", 21}, {"amy", 10}})
}

func TestCrashBetweenApplyAndCommit(t *testing.T) { // C6
	crashed := make(chan struct{})
	s := stacktest.Start(t, stacktest.Options{Partitions: 1, AfterApply: func(ctx context.Context, _ []*kgo.Record) {
		select {
		case <-crashed:
		default:
			close(crashed)
		}
		<-ctx.Done() // never commit: the consumer is killed here
	}})
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, rec(fmt.Sprintf("e%d", i), "b1", "amy", 1, at(fmt.Sprintf("10:00:%02d", i))))
	}
	s.Produce(recs...)
	<-crashed
	s.KillConsumer()
	committed, err := s.Admin.FetchOffsets(context.Background(), "service")
	require.NoError(t, err)
	o, ok := committed.Lookup(stacktest.Topic, 0)
	require.True(t, !ok || o.At < 10, "nothing was committed before the crash")

	s.StartConsumer(nil)
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"amy", 10}})
	assert.Positive(t, counterWith(t, s, "leaderboard_records_applied_total", "redelivered"), "the restarted consumer saw the records again")
}

func TestWrongKey(t *testing.T) { // C7
	s := stacktest.Start(t, stacktest.Options{Partitions: 1})
	out := s.Produce(&kgo.Record{Key: []byte("b1:bob"), Value: value("e1", "b1", "amy", 10, at("10:00"))})
	s.WaitConsumed()
	reason, found, err := s.Store.Rejected(context.Background(), 0, out[0].Offset)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "key_mismatch", reason)
	dlq := consumeAll(t, s, stacktest.Topic+".dlq", 1)
	assert.Equal(t, "key_mismatch", headers(dlq[0])["reason"])
	for _, w := range leaderboard.StandardWindows(dayD()) {
		cache, clickhouse := readMaybe(t, s, "b1", w)
		assert.Empty(t, cache)
		assert.Empty(t, clickhouse)
	}
}

func TestConflict(t *testing.T) { // C8
	s := stacktest.Start(t, stacktest.Options{Partitions: 1})
	s.Produce(rec("e1", "b1", "amy", 100, at("10:00")))
	s.Produce(rec("e1", "b1", "amy", 999, at("10:00")))
	s.WaitConsumed()
	expectBoth(t, s, "b1", []row{{"amy", 100}})
	ctx := context.Background()
	n, err := s.Store.ConflictCount(ctx, "b1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	conflicts, err := s.Store.Conflicts(ctx, "b1", "amy")
	require.NoError(t, err)
	require.Len(t, conflicts, 1)
	st, err := s.Hot.Status(ctx, "b1")
	require.NoError(t, err)
	assert.Equal(t, int64(1), st.Conflicts)
	assert.Equal(t, float64(1), counterWith(t, s, "leaderboard_records_applied_total", "conflict"))
}

// readMaybe reads a window that may not exist in Valkey.
func readMaybe(t *testing.T, s *stacktest.Stack, board string, w leaderboard.Window) (cache, clickhouse []row) {
	t.Helper()
	ctx := context.Background()
	exists, err := s.Hot.Exists(ctx, board, w)
	require.NoError(t, err)
	if exists {
		cache, _ = read(t, s, board, w)
	}
	st, err := s.Store.Standings(ctx, board, w, leaderboard.Sum)
	require.NoError(t, err)
	for _, e := range st {
		clickhouse = append(clickhouse, row{e.PlayerID, e.Score})
	}
	return cache, clickhouse
}

// Valkey down during ingestion: the consumer pauses fetching, retries with
// backoff, and when Valkey is back applies every record of the outage once;
// nothing is committed before it is applied.
func TestValkeyDownPausesAndResumes(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Partitions: 1})
	s.Produce(rec("e0", "b1", "amy", 1, at("09:00")))
	s.WaitConsumed()

	s.Valkey.Stop()
	var outage []*kgo.Record
	for i := 1; i <= 5; i++ {
		outage = append(outage, rec(fmt.Sprintf("e%d", i), "b1", "bob", int64(i), at(fmt.Sprintf("10:0%d", i))))
	}
	out := s.Produce(outage...)
	require.Eventually(t, func() bool { return gauge(t, s, "leaderboard_consumer_paused") == 1 }, 30*time.Second, 50*time.Millisecond,
		"fetching pauses while Valkey is down")
	require.Error(t, s.Consumer().Health(context.Background()), "the consumer reports itself paused")
	committed, err := s.Admin.FetchOffsets(context.Background(), "service")
	require.NoError(t, err)
	o, _ := committed.Lookup(stacktest.Topic, 0)
	assert.LessOrEqual(t, o.At, out[0].Offset, "nothing of the outage is committed before it is applied")

	s.Valkey.Restart() // an empty Valkey: only what arrives from now on is in it
	s.WaitConsumed()
	assert.Equal(t, float64(0), gauge(t, s, "leaderboard_consumer_paused"))
	require.NoError(t, s.Consumer().Health(context.Background()))
	assert.Positive(t, counterWith(t, s, "leaderboard_consumer_retries_total", "apply"))
	assert.Equal(t, float64(6), counterWith(t, s, "leaderboard_records_applied_total", "applied"), "each record applied once")
	page, err := s.Hot.RangePage(context.Background(), "b1", leaderboard.AllTimeWindow(), 0, 10)
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	assert.Equal(t, "bob", page.Entries[0].PlayerID)
	assert.Equal(t, int64(15), page.Entries[0].Score, "every event of the outage, once")
}

// A board redefined with another aggregation after its first events reached
// Valkey (a definition racing with records in flight) never blocks the
// partition: the hot board keeps its aggregation, and it is counted.
func TestRedefinedBoardNeverBlocks(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{Partitions: 1})
	s.Produce(rec("e1", "race", "amy", 10, at("10:00")))
	s.WaitConsumed()
	_, err := s.Store.DB().Exec("INSERT INTO " + s.Database + ".boards (board_id, name, aggregation, updated_at) VALUES ('race', 'r', 'max', now64(3))")
	require.NoError(t, err)
	s.StopConsumer()
	s.StartConsumer(nil) // a fresh catalog reads the new definition
	s.Produce(rec("e2", "race", "amy", 5, at("10:01")), rec("e3", "other", "bob", 1, at("10:02")))
	s.WaitConsumed()
	assert.Equal(t, float64(1), counter(t, s, "leaderboard_board_aggregation_conflicts_total"))
	page, err := s.Hot.RangePage(context.Background(), "race", leaderboard.AllTimeWindow(), 0, 10)
	require.NoError(t, err)
	require.Len(t, page.Entries, 1)
	assert.Equal(t, int64(15), page.Entries[0].Score, "the hot board keeps summing")
	cache, _ := read(t, s, "other", leaderboard.AllTimeWindow())
	assert.Equal(t, []row{{"bob", 1}}, cache, "other boards keep flowing")
}

//go:build chdb

package warehouse_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/broker"
	"example.com/leaderboard/internal/leaderboard"
)

// eventRow is a row of events FINAL.
type eventRow struct {
	eventID string
	player  string
	score   int64
	occMS   int64
	offset  uint64
}

func finalEvents(t *testing.T, board string) []eventRow {
	t.Helper()
	var out []eventRow
	scanAll(t, "SELECT event_id, player_id, score, toUnixTimestamp64Milli(occurred_at), src_offset FROM lbtest.events FINAL "+
		"WHERE board_id = ? ORDER BY event_id", func(rows *sql.Rows) error {
		var r eventRow
		if err := rows.Scan(&r.eventID, &r.player, &r.score, &r.occMS, &r.offset); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, board)
	return out
}

func daily(days int) leaderboard.Window  { return leaderboard.DailyWindow(day.AddDate(0, 0, days)) }
func weekly(days int) leaderboard.Window { return leaderboard.WeeklyWindow(day.AddDate(0, 0, days)) }

// TestEventsDedupInEveryWindow delivers the same events in several insert
// blocks, byte for byte at new offsets, redelivered at the same offset, and
// conflicting copies at higher offsets that move the event to another day:
// after FINAL each identity counts once, with the payload of its lowest
// offset, in the daily, weekly and all-time windows.
func TestEventsDedupInEveryWindow(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	const (
		b = "dedup"
		p = 3
	)
	e1 := event(p, 0, "e1", b, "amy", 100, at(0, "10:00"), "")
	e2 := event(p, 1, "e2", b, "bob", 50, at(0, "10:01"), "")
	e3 := event(p, 2, "e3", b, "amy", -30, at(-1, "23:00"), "")
	e4 := event(p, 3, "e4", b, "cat", 70, at(-7, "12:00"), "")
	insertRecords(t, e1, e2, e3, e4)

	// A later block: the same records again (a producer retry), conflicts.
	e1Later := event(p, 8, "e1", b, "amy", 999, at(1, "10:00"), "")      // another score and day
	e2Meta := event(p, 9, "e2", b, "bob", 50, at(0, "10:01"), `{"m":1}`) // metadata differs
	// The same event in other bytes: occurred_at 0.4 ms later, the same
	// instant once truncated to milliseconds, hence the same fingerprint.
	e1Same := e1.at(10)
	e1Same.value = []byte(`{"event_id":"e1","leaderboard_id":"dedup","player_id":"amy","score":100,` +
		`"occurred_at":"` + at(0, "10:00").Add(400*time.Microsecond).Format("2006-01-02T15:04:05.000000Z07:00") + `"}`)
	insertRecords(t, e1.at(4), e2.at(5), e3.at(6), e4.at(7), e1Later, e2Meta, e1Same)
	// Kafka's at-least-once redelivery of an offset already consumed.
	insertRecords(t, e1)
	// A conflict whose higher offset arrives in an earlier block than the
	// record it conflicts with: the lowest offset still wins.
	insertRecords(t, event(p, 21, "e5", b, "dan", 999, at(0, "09:00"), ""))
	insertRecords(t, event(p, 20, "e5", b, "dan", 5, at(0, "09:00"), ""))

	assert.Equal(t, []eventRow{
		{"e1", "amy", 100, at(0, "10:00").UnixMilli(), 0},
		{"e2", "bob", 50, at(0, "10:01").UnixMilli(), 1},
		{"e3", "amy", -30, at(-1, "23:00").UnixMilli(), 2},
		{"e4", "cat", 70, at(-7, "12:00").UnixMilli(), 3},
		{"e5", "dan", 5, at(0, "09:00").UnixMilli(), 20},
	}, finalEvents(t, b))

	assert.Equal(t, []standing{
		{"amy", 100, at(0, "10:00")}, {"bob", 50, at(0, "10:01")}, {"dan", 5, at(0, "09:00")},
	}, standings(t, b, daily(0), leaderboard.Sum), "daily D")
	assert.Equal(t, []standing{{"amy", -30, at(-1, "23:00")}}, standings(t, b, daily(-1), leaderboard.Sum), "daily D-1")
	assert.Empty(t, standings(t, b, daily(1), leaderboard.Sum), "daily D+1: the conflicting copy is never applied")
	assert.Equal(t, []standing{{"cat", 70, at(-7, "12:00")}}, standings(t, b, daily(-7), leaderboard.Sum), "daily D-7")
	assert.Equal(t, []standing{
		{"amy", 70, at(0, "10:00")}, {"bob", 50, at(0, "10:01")}, {"dan", 5, at(0, "09:00")},
	}, standings(t, b, weekly(0), leaderboard.Sum), "weekly W")
	assert.Equal(t, []standing{{"cat", 70, at(-7, "12:00")}}, standings(t, b, weekly(-7), leaderboard.Sum), "weekly W-1")
	assert.Empty(t, standings(t, b, weekly(7), leaderboard.Sum), "weekly W+1")
	assert.Equal(t, []standing{
		{"cat", 70, at(-7, "12:00")}, {"amy", 70, at(0, "10:00")}, {"bob", 50, at(0, "10:01")}, {"dan", 5, at(0, "09:00")},
	}, standings(t, b, leaderboard.AllTimeWindow(), leaderboard.Sum), "all-time: cat reached 70 first")
	assert.Equal(t, []standing{
		{"amy", 100, at(0, "10:00")}, {"cat", 70, at(-7, "12:00")}, {"bob", 50, at(0, "10:01")}, {"dan", 5, at(0, "09:00")},
	}, standings(t, b, leaderboard.AllTimeWindow(), leaderboard.Max), "all-time, max")
	custom, err := leaderboard.CustomWindow(at(-1, "23:00"), at(0, "10:01"))
	require.NoError(t, err)
	assert.Equal(t, []standing{
		{"amy", 70, at(0, "10:00")}, {"dan", 5, at(0, "09:00")},
	}, standings(t, b, custom, leaderboard.Sum), "custom [D-1 23:00, D 10:01)")

	n, err := store.ConflictCount(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n, "e1 at offset 8, e2 at 9, e5 at 21; the duplicates are not conflicts")
	conflicts, err := store.Conflicts(ctx, b, "amy")
	require.NoError(t, err)
	require.Len(t, conflicts, 1)
	c := conflicts[0]
	assert.Equal(t, "e1", c.EventID)
	assert.Equal(t, int64(8), c.Offset)
	assert.Equal(t, int32(p), c.Partition)
	assert.Equal(t, int64(999), c.Score)
	assert.True(t, at(1, "10:00").Equal(c.OccurredAt))
	assert.Equal(t, int64(0), c.AcceptedOffset)
	assert.Equal(t, fmt.Sprintf("100|%d|", at(0, "10:00").UnixMilli()), c.AcceptedFingerprint)
	conflicts, err = store.Conflicts(ctx, b, "bob")
	require.NoError(t, err)
	require.Len(t, conflicts, 1)
	assert.Equal(t, `{"m":1}`, conflicts[0].Metadata)
	conflicts, err = store.Conflicts(ctx, b, "dan")
	require.NoError(t, err)
	require.Len(t, conflicts, 1)
	assert.Equal(t, int64(21), conflicts[0].Offset)
	assert.Equal(t, int64(20), conflicts[0].AcceptedOffset)
	conflicts, err = store.Conflicts(ctx, b, "cat")
	require.NoError(t, err)
	assert.Empty(t, conflicts)
}

// TestC5UnmergedParts is cases.md C5: e1 b1 amy 100 D 10:00 reaches records
// twice, as two parts (two inserts, merges stopped, no OPTIMIZE); every read
// shows amy 100.
func TestC5UnmergedParts(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	const b = "c5"
	for _, table := range []string{"records", "events", "deliveries"} {
		_, err := store.DB().ExecContext(ctx, "SYSTEM STOP MERGES lbtest."+table)
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = store.DB().ExecContext(ctx, "SYSTEM START MERGES lbtest."+table) })
	}
	e1 := event(4, 0, "e1", b, "amy", 100, at(0, "10:00"), "")
	insertRecords(t, e1)
	insertRecords(t, e1)       // the Kafka engine's redelivery of the same offset
	insertRecords(t, e1.at(1)) // a producer's retry: the same bytes at the next offset
	require.Equal(t, int64(3), queryInt64(t, "SELECT toInt64(count()) FROM lbtest.records WHERE src_partition = 4"))
	require.Equal(t, int64(3), queryInt64(t, "SELECT toInt64(count()) FROM lbtest.events WHERE board_id = ?", b),
		"three unmerged rows in events")
	require.GreaterOrEqual(t, queryInt64(t, "SELECT toInt64(count()) FROM system.parts WHERE database = 'lbtest' AND table = 'events' AND active"),
		int64(3), "in separate parts")

	amy := []standing{{"amy", 100, at(0, "10:00")}}
	custom, err := leaderboard.CustomWindow(at(0, "09:00"), at(0, "11:00"))
	require.NoError(t, err)
	for _, w := range []leaderboard.Window{daily(0), weekly(0), leaderboard.AllTimeWindow(), custom} {
		for _, agg := range []leaderboard.Aggregation{leaderboard.Sum, leaderboard.Max} {
			assert.Equal(t, amy, standings(t, b, w, agg), "%s %s", w.Key(), agg)
			page, players, err := store.StandingsPage(ctx, b, w, agg, 10, 0)
			require.NoError(t, err)
			assert.Equal(t, int64(1), players)
			require.Len(t, page, 1)
			assert.Equal(t, int64(1), page[0].Rank)
			assert.Equal(t, int64(100), page[0].Score)
			n, err := store.Count(ctx, b, w, agg)
			require.NoError(t, err)
			assert.Equal(t, int64(1), n)
		}
		events, err := store.PlayerEvents(ctx, b, w, "amy")
		require.NoError(t, err)
		require.Len(t, events, 1, w.Key())
		assert.Equal(t, int64(100), events[0].Score)
		assert.Equal(t, int64(0), events[0].Offset)
	}
	n, err := store.ConflictCount(ctx, b)
	require.NoError(t, err)
	assert.Zero(t, n, "a redelivery is not a conflict")
}

// TestC8Conflict is cases.md C8: e1 b1 amy 100 D 10:00, then later in the
// same partition e1 b1 amy 999 D 10:00. amy keeps 100; one conflict is
// counted and visible in amy's events.
func TestC8Conflict(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	const b = "c8"
	insertRecords(t, event(5, 0, "e1", b, "amy", 100, at(0, "10:00"), ""))
	insertRecords(t, event(5, 1, "e1", b, "amy", 999, at(0, "10:00"), ""))
	// And the same within one block.
	insertRecords(t, event(5, 2, "e2", b, "bob", 10, at(0, "10:00"), ""), event(5, 3, "e2", b, "bob", 11, at(0, "10:00"), ""))

	for _, w := range []leaderboard.Window{daily(0), weekly(0), leaderboard.AllTimeWindow()} {
		assert.Equal(t, []standing{{"amy", 100, at(0, "10:00")}, {"bob", 10, at(0, "10:00")}},
			standings(t, b, w, leaderboard.Sum), w.Key())
	}
	n, err := store.ConflictCount(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	conflicts, err := store.Conflicts(ctx, b, "amy")
	require.NoError(t, err)
	require.Len(t, conflicts, 1)
	assert.Equal(t, "e1", conflicts[0].EventID)
	assert.Equal(t, int64(999), conflicts[0].Score)
	assert.Equal(t, int64(1), conflicts[0].Offset)
	assert.Equal(t, int64(0), conflicts[0].AcceptedOffset)
	assert.Equal(t, fmt.Sprintf("999|%d|", at(0, "10:00").UnixMilli()), conflicts[0].Fingerprint)
	events, err := store.PlayerEvents(ctx, b, daily(0), "amy")
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, int64(100), events[0].Score)
}

// TestRankingMatchesGoReference ranks random boards (negative, zero and tied
// scores, players that only differ in bytes, duplicates and conflicts, in
// random insert blocks) in ClickHouse and with leaderboard.Aggregation's
// reference fold over the deduplicated events, for every kind of window and
// both aggregations.
func TestRankingMatchesGoReference(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	players := []string{"amy", "bob", "Zoë", "Zoe", "Zoe\u0308", "a", "A", "é", "~", " ", "a b", "a/b%20c", "p:1", "\U0001F600", "z"}
	const b = "ref"
	var (
		recs   []rec
		winner = map[string]leaderboard.Event{} // by event_id: the lowest offset
	)
	for off := range 600 {
		id := fmt.Sprintf("e%d", rng.IntN(400))
		player := players[rng.IntN(len(players))]
		if w, ok := winner[id]; ok {
			player = w.PlayerID // same identity: a duplicate or a conflict
		}
		score := []int64{0, 1, -1, 10, 10, 10, 50, -30, 1_000_000_000_000, -1_000_000_000_000}[rng.IntN(10)]
		occurred := day.Add(time.Duration(rng.Int64N(int64(10*24*time.Hour))) - 5*24*time.Hour).Truncate(time.Minute * time.Duration(1+rng.IntN(90)))
		if w, ok := winner[id]; ok && rng.IntN(2) == 0 {
			score, occurred = w.Score, w.OccurredAt // a plain duplicate
		}
		r := event(6, uint64(off), id, b, player, score, occurred, "")
		recs = append(recs, r)
		if _, ok := winner[id]; !ok {
			winner[id] = leaderboard.Event{EventID: id, BoardID: b, PlayerID: player, Score: score, OccurredAt: occurred}
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	for lo := 0; lo < len(recs); {
		hi := min(len(recs), lo+1+rng.IntN(120))
		insertRecords(t, recs[lo:hi]...)
		lo = hi
	}

	accepted := make([]leaderboard.Event, 0, len(winner))
	for _, e := range winner {
		accepted = append(accepted, e)
	}
	windows := []leaderboard.Window{leaderboard.AllTimeWindow()}
	for d := -6; d <= 5; d++ {
		windows = append(windows, daily(d))
	}
	for d := -7; d <= 7; d += 7 {
		windows = append(windows, weekly(d))
	}
	for range 5 {
		from := day.Add(time.Duration(rng.Int64N(int64(6*24*time.Hour))) - 5*24*time.Hour).Truncate(time.Minute)
		w, err := leaderboard.CustomWindow(from, from.Add(time.Duration(1+rng.Int64N(int64(4*24*time.Hour)))).Truncate(time.Millisecond))
		require.NoError(t, err)
		windows = append(windows, w)
	}
	for _, w := range windows {
		var in []leaderboard.Event
		for _, e := range accepted {
			if w.Contains(e.OccurredAt) {
				in = append(in, e)
			}
		}
		for _, agg := range []leaderboard.Aggregation{leaderboard.Sum, leaderboard.Max} {
			want := agg.Standings(in)
			got, err := store.Standings(ctx, b, w, agg)
			require.NoError(t, err)
			require.Equal(t, len(want), len(got), "%s %s", w.Key(), agg)
			for i := range want {
				require.Equal(t, want[i].PlayerID, got[i].PlayerID, "%s %s rank %d", w.Key(), agg, i+1)
				require.Equal(t, want[i].Score, got[i].Score, "%s %s rank %d", w.Key(), agg, i+1)
				require.True(t, want[i].ReachedAt.Equal(got[i].ReachedAt), "%s %s rank %d", w.Key(), agg, i+1)
			}
			// Pages put together are the whole ranking.
			var paged []leaderboard.Entry
			for offset := int64(0); ; offset += 4 {
				page, total, err := store.StandingsPage(ctx, b, w, agg, 4, offset)
				require.NoError(t, err)
				require.Equal(t, int64(len(want)), total)
				if len(page) == 0 {
					break
				}
				paged = append(paged, page...)
			}
			require.Len(t, paged, len(want))
			for i, e := range paged {
				require.Equal(t, int64(i+1), e.Rank)
				require.Equal(t, want[i].PlayerID, e.PlayerID)
			}
		}
	}
}

// TestRankingTies is cases.md C9 and C10, with player ids ordered bytewise.
func TestRankingTies(t *testing.T) {
	migrateEvents(t)
	insertRecords(t,
		event(7, 0, "e1", "b2", "cat", 101, at(0, "10:00"), ""),
		event(7, 1, "e2", "b2", "amy", 100, at(0, "10:01"), ""),
		event(7, 2, "e3", "b2", "bob", 100, at(0, "10:05"), ""),
		event(7, 3, "e4", "b2", "dan", 99, at(0, "10:06"), ""),
		event(7, 4, "e1", "b3", "zoe", 50, at(0, "10:00"), ""),
		event(7, 5, "e2", "b3", "abe", 50, at(0, "10:00"), ""),
	)
	var ids []string
	for i, p := range []string{"é", "Zoë", "~", "Zoe", "a", " ", "Z", "\U0001F600", "\u00a0"} {
		insertRecords(t, event(7, uint64(10+i), fmt.Sprintf("e%d", i), "bytes", p, 7, at(0, "10:00"), ""))
		ids = append(ids, p)
	}
	slices.Sort(ids) // Go compares strings bytewise
	for _, w := range []leaderboard.Window{daily(0), weekly(0), leaderboard.AllTimeWindow()} {
		assert.Equal(t, []standing{{"cat", 101, at(0, "10:00")}, {"amy", 100, at(0, "10:01")}, {"bob", 100, at(0, "10:05")}, {"dan", 99, at(0, "10:06")}},
			standings(t, "b2", w, leaderboard.Sum))
		assert.Equal(t, []standing{{"abe", 50, at(0, "10:00")}, {"zoe", 50, at(0, "10:00")}}, standings(t, "b3", w, leaderboard.Sum))
		var got []string
		for _, s := range standings(t, "bytes", w, leaderboard.Sum) {
			got = append(got, s.player)
		}
		assert.Equal(t, ids, got)
	}
	page, total, err := store.StandingsPage(context.Background(), "b2", daily(0), leaderboard.Sum, 2, 0)
	require.NoError(t, err)
	assert.Equal(t, int64(4), total)
	require.Len(t, page, 2)
	assert.Equal(t, "cat", page[0].PlayerID)
	assert.Equal(t, "amy", page[1].PlayerID)
	page, total, err = store.StandingsPage(context.Background(), "b2", daily(0), leaderboard.Sum, 2, 10)
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Equal(t, int64(4), total)
	page, total, err = store.StandingsPage(context.Background(), "nobody", daily(0), leaderboard.Sum, 2, 0)
	require.NoError(t, err)
	assert.Empty(t, page)
	assert.Zero(t, total)
}

// TestTotalOutOfRange: a sum beyond ±(2^53-1) is an error wrapping
// leaderboard.ErrTotalOutOfRange, never a rounded number; exactly 2^53-1 is
// served.
func TestTotalOutOfRange(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	const maxScore = leaderboard.MaxEventScore
	var recs []rec
	n := int64(leaderboard.MaxExactTotal / maxScore) // 9007 events of 1e12
	for i := range n {
		recs = append(recs, event(8, uint64(len(recs)), fmt.Sprintf("e%d", i), "big", "amy", maxScore, at(0, "10:00"), ""))
		recs = append(recs, event(8, uint64(len(recs)), fmt.Sprintf("e%d", i), "big", "bob", -maxScore, at(0, "10:00"), ""))
	}
	rest := int64(leaderboard.MaxExactTotal) - n*maxScore
	recs = append(recs, event(8, uint64(len(recs)), "last", "big", "amy", rest, at(0, "10:00"), ""))
	recs = append(recs, event(8, uint64(len(recs)), "last", "big", "bob", -rest, at(0, "10:00"), ""))
	insertRecords(t, recs...)

	got := standings(t, "big", daily(0), leaderboard.Sum)
	assert.Equal(t, []standing{{"amy", leaderboard.MaxExactTotal, at(0, "10:00")}, {"bob", -leaderboard.MaxExactTotal, at(0, "10:00")}}, got)

	insertRecords(t, event(8, uint64(len(recs)), "one-more", "big", "bob", -1, at(0, "10:00"), ""))
	for _, w := range []leaderboard.Window{daily(0), weekly(0), leaderboard.AllTimeWindow()} {
		_, err := store.Standings(ctx, "big", w, leaderboard.Sum)
		assert.True(t, errors.Is(err, leaderboard.ErrTotalOutOfRange), "%s: %v", w.Key(), err)
		_, _, err = store.StandingsPage(ctx, "big", w, leaderboard.Sum, 1, 0)
		assert.True(t, errors.Is(err, leaderboard.ErrTotalOutOfRange), "%s page: %v", w.Key(), err)
		_, err = store.Count(ctx, "big", w, leaderboard.Sum)
		assert.True(t, errors.Is(err, leaderboard.ErrTotalOutOfRange), "%s count: %v", w.Key(), err)
		best, err := store.Standings(ctx, "big", w, leaderboard.Max)
		require.NoError(t, err, "max never leaves the range")
		assert.Len(t, best, 2)
	}
}

// TestBackfill: records that arrived before migration 000002 are validated
// when it is applied, like the ones after.
func TestBackfill(t *testing.T) {
	mig := migrateEvents(t)
	v, _, _, err := mig.Version()
	require.NoError(t, err)
	require.NoError(t, mig.Steps(-(int(v) - 1)), "down to 000001: records, no validation")
	require.Equal(t, int64(0), queryInt64(t, "SELECT toInt64(count()) FROM system.tables WHERE database = 'lbtest' AND name IN ('events', 'to_validate')"))
	insertRecords(t,
		event(9, 0, "e1", "early", "amy", 100, at(0, "10:00"), ""),
		rec{partition: 9, offset: 1, key: []byte("early:amy"), value: []byte(`{"event_id":"e2","score":`), tsMS: at(0, "10:00").UnixMilli()},
		event(9, 2, "e1", "early", "amy", 999, at(0, "10:00"), ""),
	)
	require.NoError(t, mig.Up())
	insertRecords(t, event(9, 3, "e3", "early", "amy", 5, at(0, "11:00"), ""))

	assert.Equal(t, []standing{{"amy", 105, at(0, "11:00")}}, standings(t, "early", daily(0), leaderboard.Sum))
	reason, found, err := store.Rejected(context.Background(), 9, 1)
	require.NoError(t, err)
	assert.True(t, found, "rejected by the backfill")
	assert.Equal(t, "malformed_json", reason)
	n, err := store.ConflictCount(context.Background(), "early")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
}

// TestRejectedAndBoards covers cases.md C4 and C7 on the ClickHouse side and
// board definitions.
func TestRejectedAndBoards(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	ts := at(0, "10:05").UnixMilli()
	insertRecords(t,
		event(10, 0, "e1", "b1", "amy", 10, at(0, "10:00"), ""),
		rec{partition: 10, offset: 1, key: []byte("b1:amy"), value: []byte(`{"event_id":"e2","score":`), tsMS: ts},
		rec{partition: 10, offset: 2, key: []byte("b1:amy"), tsMS: ts, value: []byte(
			`{"event_id":"e3","leaderboard_id":"b1","player_id":"amy","score":"abc","occurred_at":"` + leaderboard.FormatTime(at(0, "10:00")) + `"}`)},
		event(10, 3, "e4", "b1", "bob", 20, at(0, "10:01"), ""),
	)
	wrongKey := event(10, 4, "e5", "b1", "amy", 1000, at(0, "10:02"), "")
	wrongKey.key = []byte("b1:bob")
	insertRecords(t, wrongKey)
	insertRecords(t, rec{partition: 10, offset: 1, key: []byte("b1:amy"), value: []byte(`{"event_id":"e2","score":`), tsMS: ts}) // redelivered

	assert.Equal(t, []standing{{"bob", 20, at(0, "10:01")}, {"amy", 10, at(0, "10:00")}}, standings(t, "b1", daily(0), leaderboard.Sum))
	for offset, want := range map[int64]string{0: "", 1: "malformed_json", 2: "invalid_field", 3: "", 4: "key_mismatch", 5: ""} {
		reason, found, err := store.Rejected(ctx, 10, offset)
		require.NoError(t, err)
		assert.Equal(t, want != "", found, "offset %d", offset)
		assert.Equal(t, want, reason, "offset %d", offset)
	}
	assert.Equal(t, int64(3), queryInt64(t, "SELECT toInt64(count()) FROM lbtest.rejected_events FINAL WHERE src_partition = 10"),
		"one row per source offset")
	var raw, msg string
	require.NoError(t, store.DB().QueryRowContext(ctx,
		"SELECT raw, message FROM lbtest.rejected_events FINAL WHERE src_partition = 10 AND src_offset = 2").Scan(&raw, &msg))
	assert.Contains(t, raw, `"score":"abc"`, "the original bytes")
	assert.Contains(t, msg, "score")

	agg, ok, err := store.BoardAggregation(ctx, "b1")
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Equal(t, leaderboard.Sum, agg)
	_, err = store.DB().ExecContext(ctx, "INSERT INTO lbtest.boards VALUES ('top', 'Top', 'sum', '2026-12-01 00:00:00.000'), ('top', 'Top', 'max', '2026-12-01 00:00:00.001')")
	require.NoError(t, err)
	agg, ok, err = store.BoardAggregation(ctx, "top")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, leaderboard.Max, agg, "the latest definition")
}

// TestKafkaIntakeValidates runs cases.md C4, C7 and C8 through the whole
// ClickHouse path: records produced to a Kafka broker, consumed by the Kafka
// engine table of the migrations, validated by the views of 000002.
func TestKafkaIntakeValidates(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	kafka, err := broker.StartEmbedded("127.0.0.1:0", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(kafka.Close) // after the migrations are reverted: the intake stops first
	adm, err := broker.NewAdmin([]string{kafka.Addr()})
	require.NoError(t, err)
	defer adm.Close()
	const topic = "wh-events.score-events"
	require.NoError(t, broker.EnsureTopics(ctx, adm, 1, topic))

	// Render the intake with this broker: down to records only, then up.
	mig := migrateEvents(t)
	v, _, _, err := mig.Version()
	require.NoError(t, err)
	require.NoError(t, mig.Steps(-(int(v) - 1)))
	params := eventsSchema
	params.Topic, params.Brokers, params.Group = topic, kafka.Addr(), "wh-events-clickhouse"
	up, err := store.NewMigrator(params)
	require.NoError(t, err)
	require.NoError(t, up.Up())

	cl, err := kgo.NewClient(kgo.SeedBrokers(kafka.Addr()), kgo.DefaultProduceTopic(topic))
	require.NoError(t, err)
	defer cl.Close()
	produce := func(r rec) {
		res := cl.ProduceSync(ctx, &kgo.Record{Key: r.key, Value: r.value, Timestamp: time.UnixMilli(r.tsMS)})
		require.NoError(t, res.FirstErr())
	}
	const b = "kb1"
	ts := at(0, "10:05").UnixMilli()
	produce(event(0, 0, "e1", b, "amy", 10, at(0, "10:00"), ""))
	produce(rec{key: []byte(b + ":amy"), value: []byte(`{"event_id":"e2","score":`), tsMS: ts})
	produce(rec{key: []byte(b + ":amy"), tsMS: ts, value: []byte(
		`{"event_id":"e3","leaderboard_id":"kb1","player_id":"amy","score":"abc","occurred_at":"` + leaderboard.FormatTime(at(0, "10:00")) + `"}`)})
	produce(event(0, 0, "e4", b, "bob", 20, at(0, "10:01"), ""))
	wrongKey := event(0, 0, "e5", b, "amy", 1000, at(0, "10:02"), "")
	wrongKey.key = []byte(b + ":bob")
	produce(wrongKey)
	produce(event(0, 0, "e6", b, "amy", 100, at(0, "10:03"), ""))
	produce(event(0, 0, "e6", b, "amy", 999, at(0, "10:03"), ""))

	require.Eventually(t, func() bool {
		var n int64
		err := store.DB().QueryRowContext(ctx, "SELECT toInt64(count()) FROM lbtest.deliveries").Scan(&n)
		return err == nil && n == 4
	}, 60*time.Second, 100*time.Millisecond, "the four accepted deliveries reach deliveries")
	// events and deliveries are sibling views of one block: one can be
	// readable before the other (seen in CI).
	require.Eventually(t, func() bool {
		var n int64
		err := store.DB().QueryRowContext(ctx, "SELECT toInt64(uniqExact(event_id)) FROM lbtest.events").Scan(&n)
		return err == nil && n == 3
	}, 30*time.Second, 100*time.Millisecond, "the three accepted identities reach events")
	require.Eventually(t, func() bool {
		var n int64
		err := store.DB().QueryRowContext(ctx, "SELECT toInt64(count()) FROM lbtest.rejected_events").Scan(&n)
		return err == nil && n == 3
	}, 30*time.Second, 100*time.Millisecond, "the three rejected records reach rejected_events")

	assert.Equal(t, []standing{{"amy", 110, at(0, "10:03")}, {"bob", 20, at(0, "10:01")}}, standings(t, b, daily(0), leaderboard.Sum))
	for offset, want := range map[int64]string{1: "malformed_json", 2: "invalid_field", 4: "key_mismatch"} {
		reason, found, err := store.Rejected(ctx, 0, offset)
		require.NoError(t, err)
		assert.True(t, found, "offset %d", offset)
		assert.Equal(t, want, reason, "offset %d", offset)
	}
	n, err := store.ConflictCount(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "C8")
	assert.Equal(t, int64(7), queryInt64(t, "SELECT toInt64(count()) FROM lbtest.records FINAL"), "every record audited")
}

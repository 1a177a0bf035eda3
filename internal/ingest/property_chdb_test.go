//go:build chdb

package ingest_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// TestStoresAgree: thousands of random events with duplicates, conflicts,
// redeliveries (a consumer killed mid-stream), out-of-order arrival,
// negative scores, several boards (sum and max), across midnight and the
// Sunday/Monday boundary. Afterwards Valkey and ClickHouse give the same
// players, scores, reached_at and ranks for every hot window, and both equal
// a reference computed by the domain rules from the winning records.
func TestStoresAgree(t *testing.T) {
	const (
		seed   = 20261203
		events = 3000
	)
	rng := rand.New(rand.NewPCG(seed, 7))
	kills := 0
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	_, err := s.Store.DB().Exec("INSERT INTO " + s.Database + ".boards (board_id, name, aggregation, updated_at) VALUES ('pmax', 'max board', 'max', now64(3))")
	require.NoError(t, err)

	now := time.Now().UTC()
	today := leaderboard.DailyWindow(now).Start
	monday := leaderboard.WeeklyWindow(now).Start
	// Instants around the boundaries that matter, none in the future.
	anchors := []time.Time{today, monday, today.AddDate(0, 0, -1), monday.AddDate(0, 0, -7).Add(36 * time.Hour)}
	when := func() time.Time {
		a := anchors[rng.IntN(len(anchors))]
		t := a.Add(time.Duration(rng.Int64N(int64(6*time.Hour))) - 3*time.Hour).Truncate(time.Millisecond)
		if rng.IntN(8) == 0 {
			t = a // exactly on the boundary
		}
		if t.After(now) {
			t = now.Add(-time.Duration(rng.Int64N(int64(time.Hour))))
		}
		return t.Truncate(time.Millisecond)
	}
	boards := []string{"psum1", "psum2", "pmax"}

	type sent struct {
		ev  leaderboard.Event
		rec *kgo.Record
	}
	var history []sent
	var batch []*kgo.Record
	flush := func() {
		rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		out := s.Produce(batch...)
		for _, r := range out {
			ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{Key: r.Key, CheckKey: true, Timestamp: r.Timestamp, MaxSkew: 5 * time.Minute})
			require.NoError(t, err)
			history = append(history, sent{ev, r})
		}
		batch = nil
	}
	for i := 0; i < events; i++ {
		var ev leaderboard.Event
		switch p := rng.IntN(100); {
		case p < 10 && len(history) > 0: // duplicate, byte for byte
			ev = history[rng.IntN(len(history))].ev
		case p < 13 && len(history) > 0: // conflict: same identity, other payload
			ev = history[rng.IntN(len(history))].ev
			ev.Score += int64(rng.IntN(50) + 1)
			if rng.IntN(2) == 0 {
				ev.OccurredAt = when()
			}
		default:
			board := boards[rng.IntN(len(boards))]
			ev = leaderboard.Event{
				EventID: fmt.Sprintf("e%d", i), BoardID: board,
				PlayerID: fmt.Sprintf("p%02d", rng.IntN(40)), Score: int64(rng.IntN(150) - 50), OccurredAt: when(),
			}
			if rng.IntN(20) == 0 {
				ev.Score = 0
			}
		}
		v, err := ev.RecordValue()
		require.NoError(t, err)
		batch = append(batch, &kgo.Record{Key: []byte(ev.Key()), Value: v})
		if len(batch) == 100 {
			flush()
		}
		if i%1000 == 999 {
			// Redeliveries: kill the consumer without a graceful commit.
			s.KillConsumer()
			kills++
			s.StartConsumer(nil)
		}
	}
	flush()
	s.WaitConsumed()
	require.Equal(t, 3, kills)

	// Reference: per identity the record with the lowest offset wins.
	winners := map[string]sent{}
	for _, h := range history {
		id := h.ev.Identity()
		if w, ok := winners[id]; !ok || h.rec.Offset < w.rec.Offset {
			winners[id] = h
		}
	}
	windows := map[string]leaderboard.Window{}
	for _, w := range winners {
		for _, win := range leaderboard.StandardWindows(w.ev.OccurredAt) {
			windows[w.ev.BoardID+"/"+win.Key()] = win
		}
	}
	keys := make([]string, 0, len(windows))
	for k := range windows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	hotChecked := 0
	for _, k := range keys {
		win := windows[k]
		board := k[:len(k)-len(win.Key())-1]
		agg := leaderboard.Sum
		if board == "pmax" {
			agg = leaderboard.Max
		}
		var in []leaderboard.Event
		for _, w := range winners {
			if w.ev.BoardID == board && win.Contains(w.ev.OccurredAt) {
				in = append(in, w.ev)
			}
		}
		want := leaderboard.Rank(agg.Standings(in))

		got, err := s.Store.Standings(ctx, board, win, agg)
		require.NoError(t, err)
		require.Equal(t, want, leaderboard.Rank(got), "clickhouse %s", k)

		exists, err := s.Hot.Exists(ctx, board, win)
		require.NoError(t, err)
		if !win.IsHot(time.Now()) {
			continue
		}
		require.True(t, exists, "hot window %s is in valkey", k)
		page, err := s.Hot.RangePage(ctx, board, win, 0, 10000)
		require.NoError(t, err)
		require.Equal(t, int64(len(want)), page.Total, k)
		require.Equal(t, normalize(want), normalize(page.Entries), "valkey %s", k)
		hotChecked++
	}
	t.Logf("%d records, %d identities, %d windows compared in both stores (%d in ClickHouse only: not hot)",
		len(history), len(winners), hotChecked, len(keys)-hotChecked)
	require.GreaterOrEqual(t, hotChecked, 9)
}

// normalize makes times comparable with require.Equal (UTC, no monotonic clock).
func normalize(es []leaderboard.Entry) []leaderboard.Entry {
	out := make([]leaderboard.Entry, len(es))
	for i, e := range es {
		e.ReachedAt = e.ReachedAt.UTC().Round(0)
		out[i] = e
	}
	return out
}

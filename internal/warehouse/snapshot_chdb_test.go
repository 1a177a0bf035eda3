//go:build chdb

package warehouse_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// snapEvent is an event of the snapshot fixture and where it was delivered.
type snapEvent struct {
	partition uint32
	offset    uint64
	e         leaderboard.Event
}

func (s snapEvent) rec() rec {
	return event(s.partition, s.offset, s.e.EventID, s.e.BoardID, s.e.PlayerID, s.e.Score, s.e.OccurredAt, string(s.e.Metadata))
}

func snapEv(partition uint32, offset uint64, id, player string, score int64, occurred time.Time, metadata string) snapEvent {
	e := leaderboard.Event{EventID: id, BoardID: snapBoard, PlayerID: player, Score: score, OccurredAt: occurred}
	if metadata != "" {
		e.Metadata = []byte(metadata)
	}
	return snapEvent{partition, offset, e}
}

const snapBoard = "snap"

// The snapshot fixture: board snap over partitions 0, 1 and 2, with a
// conflicting copy of e1 in its own partition (offset 5, on D+1) and one of
// e9 in another partition (1/12, below the winner 0/6 in offset order of its
// partition but not overall).
var (
	sE1     = snapEv(0, 0, "e1", "amy", 100, at(0, "10:00"), "")
	sE2     = snapEv(0, 1, "e2", "bob", 50, at(0, "11:00"), "")
	sE3     = snapEv(0, 2, "e3", "amy", 30, at(-1, "09:00"), "")
	sE4     = snapEv(0, 3, "e4", "cat", 70, at(-7, "12:00"), "")
	sE5     = snapEv(0, 4, "e5", "bob", 20, at(0, "12:00"), "")
	sE1Copy = snapEv(0, 5, "e1", "amy", 999, at(1, "10:00"), "") // conflict: never applied
	sE9     = snapEv(0, 6, "e9", "fay", 60, at(0, "14:00"), "")
	sE6     = snapEv(1, 10, "e6", "dan", 40, at(0, "09:00"), "")
	sE7     = snapEv(1, 11, "e7", "amy", 5, at(0, "13:00"), "")
	sE9Copy = snapEv(1, 12, "e9", "fay", 61, at(0, "14:00"), "") // conflict in another partition
	sE8     = snapEv(2, 0, "e8", "eve", 500, at(0, "08:00"), `{"lvl":3}`)
	// snapOther is on another board, in partition 2 too.
	snapOther = event(2, 1, "e1", "other", "gil", 10, at(-30, "10:00"), "")
)

// snapAll covers every offset of the fixture.
var snapAll = map[int32]int64{0: 7, 1: 13, 2: 2}

// insertSnapshotFixture inserts the fixture in several blocks (unmerged
// parts): e9's copy arrives before its winner, and e1's offset is
// redelivered.
func insertSnapshotFixture(t *testing.T) {
	t.Helper()
	insertRecords(t, sE1.rec(), sE2.rec(), sE3.rec(), sE4.rec(), sE5.rec(), sE8.rec(), snapOther)
	insertRecords(t, sE6.rec(), sE7.rec(), sE9Copy.rec(), sE1Copy.rec())
	insertRecords(t, sE9.rec(), sE1.rec())
}

// standingsAt collects StandingsAt.
func standingsAt(t *testing.T, board string, w leaderboard.Window, agg leaderboard.Aggregation, upTo, since map[int32]int64) []standing {
	t.Helper()
	out := []standing{}
	err := store.StandingsAt(context.Background(), board, w, agg, upTo, since, func(s leaderboard.Standing) error {
		require.Equal(t, time.UTC, s.ReachedAt.Location())
		out = append(out, standing{s.PlayerID, s.Score, s.ReachedAt})
		return nil
	})
	require.NoError(t, err)
	return out
}

// TestStandingsAt runs StandingsAt on the fixture: offset bounds,
// duplicates and conflicts around them, windows, since, sum and max; then
// the streaming contract: fn's error stops the stream and comes back
// unchanged, a total out of the exact range is passed, not an error, and a
// failing query is wrapped.
func TestStandingsAt(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	insertSnapshotFixture(t)
	// 9008 events of 1e12: a sum past 2^53-1, inserted into events as the
	// validation would.
	_, err := store.DB().ExecContext(ctx,
		"INSERT INTO lbtest.events (board_id, player_id, event_id, score, occurred_at, metadata, fingerprint, src_partition, src_offset, record_ts, ver) "+
			"SELECT 'huge', 'amy', toString(number), 1000000000000, toDateTime64('2026-12-02 10:00:00', 3, 'UTC'), '', '', 0, number, "+
			"toDateTime64('2026-12-02 10:01:00', 3, 'UTC'), 18446744073709551615 - number FROM numbers(9008)")
	require.NoError(t, err)

	var (
		sum, mx = leaderboard.Sum, leaderboard.Max
		all     = leaderboard.AllTimeWindow()
		eve     = standing{"eve", 500, at(0, "08:00")}
		cat     = standing{"cat", 70, at(-7, "12:00")}
		bob     = standing{"bob", 70, at(0, "12:00")}
		fay     = standing{"fay", 60, at(0, "14:00")}
		dan     = standing{"dan", 40, at(0, "09:00")}
	)
	for _, tc := range []struct {
		name        string
		board       string // snap when ""
		w           leaderboard.Window
		agg         leaderboard.Aggregation
		upTo, since map[int32]int64
		want        []standing
	}{
		{name: "every offset, daily", w: daily(0), agg: sum, upTo: snapAll,
			want: []standing{eve, {"amy", 105, at(0, "13:00")}, bob, fay, dan}},
		{name: "every offset, daily D-1", w: daily(-1), agg: sum, upTo: snapAll,
			want: []standing{{"amy", 30, at(-1, "09:00")}}},
		{name: "every offset, weekly", w: weekly(0), agg: sum, upTo: snapAll,
			want: []standing{eve, {"amy", 135, at(0, "13:00")}, bob, fay, dan}},
		{name: "every offset, weekly W-1", w: weekly(-7), agg: sum, upTo: snapAll, want: []standing{cat}},
		{name: "every offset, all-time: winners once, cat reached 70 first", w: all, agg: sum, upTo: snapAll,
			want: []standing{eve, {"amy", 135, at(0, "13:00")}, cat, bob, fay, dan}},
		{name: "every offset, all-time, max", w: all, agg: mx, upTo: snapAll,
			want: []standing{eve, {"amy", 100, at(0, "10:00")}, cat, fay, {"bob", 50, at(0, "11:00")}, dan}},
		{name: "every offset, daily, max", w: daily(0), agg: mx, upTo: snapAll,
			want: []standing{eve, {"amy", 100, at(0, "10:00")}, fay, {"bob", 50, at(0, "11:00")}, dan}},
		{name: "bound per partition: offsets at or above it excluded", w: all, agg: sum, upTo: map[int32]int64{0: 2, 1: 11, 2: 0},
			want: []standing{{"amy", 100, at(0, "10:00")}, {"bob", 50, at(0, "11:00")}, dan}},
		{name: "absent partition contributes nothing", w: daily(0), agg: sum, upTo: map[int32]int64{0: 7, 1: 13},
			want: []standing{{"amy", 105, at(0, "13:00")}, bob, fay, dan}},
		{name: "negative bound and partition: nothing", w: all, agg: sum, upTo: map[int32]int64{0: -1, -1: 100}, want: []standing{}},
		{name: "empty at", w: all, agg: sum, upTo: map[int32]int64{}, want: []standing{}},
		{name: "nil at", w: all, agg: sum, want: []standing{}},
		{name: "winner below the bound, conflicting copy at it", w: all, agg: sum, upTo: map[int32]int64{0: 5},
			want: []standing{{"amy", 130, at(0, "10:00")}, cat, bob}},
		{name: "conflicting copy below the bound, winner lower: counted once, as the winner", w: all, agg: sum, upTo: map[int32]int64{0: 6},
			want: []standing{{"amy", 130, at(0, "10:00")}, cat, bob}},
		{name: "conflicting copy below the bound, max", w: all, agg: mx, upTo: map[int32]int64{0: 6},
			want: []standing{{"amy", 100, at(0, "10:00")}, cat, {"bob", 50, at(0, "11:00")}}},
		{name: "conflicting copy's day stays empty", w: daily(1), agg: sum, upTo: map[int32]int64{0: 6}, want: []standing{}},
		{name: "winner at its bound, copy below its own in another partition", w: all, agg: sum, upTo: map[int32]int64{0: 6, 1: 13},
			want: []standing{{"amy", 135, at(0, "13:00")}, cat, bob, dan}},
		{name: "since: touched players with full standings", w: daily(0), agg: sum, upTo: snapAll, since: map[int32]int64{0: 4, 1: 11, 2: 2},
			want: []standing{{"amy", 105, at(0, "13:00")}, bob, fay}},
		{name: "since: max", w: all, agg: mx, upTo: snapAll, since: map[int32]int64{0: 4, 1: 11, 2: 2},
			want: []standing{{"amy", 100, at(0, "10:00")}, fay, {"bob", 50, at(0, "11:00")}}},
		{name: "since: conflicting copies touch no one", w: all, agg: sum,
			upTo: map[int32]int64{0: 6, 1: 13, 2: 2}, since: map[int32]int64{0: 5, 1: 12, 2: 2}, want: []standing{}},
		{name: "since: the touching event must be in the window (daily)", w: daily(0), agg: sum, upTo: snapAll,
			since: map[int32]int64{0: 2, 1: 13, 2: 2}, want: []standing{bob, fay}},
		{name: "since: the touching event must be in the window (weekly)", w: weekly(0), agg: sum, upTo: snapAll,
			since: map[int32]int64{0: 2, 1: 13, 2: 2}, want: []standing{{"amy", 135, at(0, "13:00")}, bob, fay}},
		{name: "since: the touching event must be in the window (all-time)", w: all, agg: sum, upTo: snapAll,
			since: map[int32]int64{0: 2, 1: 13, 2: 2}, want: []standing{{"amy", 135, at(0, "13:00")}, cat, bob, fay}},
		{name: "since: absent partition counts from its first offset", w: daily(0), agg: sum, upTo: snapAll,
			since: map[int32]int64{0: 7, 1: 13}, want: []standing{eve}},
		{name: "since empty: every player", w: daily(0), agg: sum, upTo: snapAll, since: map[int32]int64{},
			want: []standing{eve, {"amy", 105, at(0, "13:00")}, bob, fay, dan}},
		{name: "since equal to at: no one", w: all, agg: sum, upTo: snapAll, since: snapAll, want: []standing{}},
		{name: "another board", board: "other", w: all, agg: sum, upTo: snapAll, want: []standing{{"gil", 10, at(-30, "10:00")}}},
		{name: "unknown board", board: "nobody", w: all, agg: sum, upTo: snapAll, want: []standing{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			board := tc.board
			if board == "" {
				board = snapBoard
			}
			assert.Equal(t, tc.want, standingsAt(t, board, tc.w, tc.agg, tc.upTo, tc.since))
		})
	}

	for _, tc := range []struct {
		name string
		run  func(t *testing.T)
	}{
		{"fn's error stops the stream, unchanged", func(t *testing.T) {
			stop := errors.New("stop")
			var seen []string
			err := store.StandingsAt(ctx, snapBoard, daily(0), leaderboard.Sum, snapAll, nil, func(s leaderboard.Standing) error {
				seen = append(seen, s.PlayerID)
				if len(seen) == 2 {
					return stop
				}
				return nil
			})
			assert.Same(t, stop, err)
			assert.Equal(t, []string{"eve", "amy"}, seen)
		}},
		{"a total out of the exact range is passed", func(t *testing.T) {
			_, err := store.Standings(ctx, "huge", leaderboard.AllTimeWindow(), leaderboard.Sum)
			require.ErrorIs(t, err, leaderboard.ErrTotalOutOfRange, "Standings refuses it")
			got := standingsAt(t, "huge", leaderboard.AllTimeWindow(), leaderboard.Sum, map[int32]int64{0: 9008}, nil)
			require.Len(t, got, 1)
			assert.Equal(t, int64(9008*leaderboard.MaxEventScore), got[0].score)
			assert.Error(t, leaderboard.CheckTotal(got[0].score))
			assert.Equal(t, []standing{{"amy", 100 * leaderboard.MaxEventScore, at(0, "10:00")}},
				standingsAt(t, "huge", daily(0), leaderboard.Sum, map[int32]int64{0: 100}, nil), "in range below offset 100")
		}},
		{"a cancelled context is wrapped", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			err := store.StandingsAt(cctx, snapBoard, daily(0), leaderboard.Sum, snapAll, nil, func(leaderboard.Standing) error { return nil })
			require.Error(t, err)
			assert.ErrorContains(t, err, "clickhouse standings at")
			assert.ErrorIs(t, err, context.Canceled)
		}},
	} {
		t.Run(tc.name, tc.run)
	}
}

// TestStandingsAtMatchesStandings: with at above every offset, StandingsAt
// is Standings, order included, on the fixture and on a random board with
// ties, duplicates and conflicts; with since and at chosen at random it is
// the Go reference fold over the winners below at, restricted to the
// players with a winner in [since, at) in the window.
func TestStandingsAtMatchesStandings(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	insertSnapshotFixture(t)

	rng := rand.New(rand.NewPCG(3, 5))
	players := []string{"amy", "bob", "Zoe", "Zoë", "a", "A", "é", " ", "\U0001F600", "z"}
	const b = "snapref"
	type delivery struct {
		partition int32
		offset    int64
		e         leaderboard.Event
	}
	var (
		recs   []rec
		winner = map[string]delivery{} // by event_id: the lowest offset, whatever the partition
		next   = map[int32]int64{}     // the next offset of each partition
	)
	for range 300 {
		id := fmt.Sprintf("e%d", rng.IntN(200))
		p := int32(rng.IntN(3))
		e := leaderboard.Event{EventID: id, BoardID: b, PlayerID: players[rng.IntN(len(players))],
			Score:      []int64{0, 1, -1, 10, 10, 50, -30, 1_000_000}[rng.IntN(8)],
			OccurredAt: day.Add(time.Duration(rng.Int64N(int64(10*24*time.Hour))) - 5*24*time.Hour).Truncate(time.Hour)}
		w, seen := winner[id]
		if seen {
			e.PlayerID = w.e.PlayerID // the same identity: a duplicate or a conflict
			if rng.IntN(2) == 0 {
				e = w.e
			}
		}
		// Offsets grow across partitions too, so that the lowest offset of
		// an identity is never a tie between two partitions.
		off := max(next[0], next[1], next[2])
		next[p] = off + 1 + rng.Int64N(3)
		recs = append(recs, event(uint32(p), uint64(off), e.EventID, b, e.PlayerID, e.Score, e.OccurredAt, ""))
		if !seen {
			winner[id] = delivery{p, off, e}
		}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	for lo := 0; lo < len(recs); {
		hi := min(len(recs), lo+1+rng.IntN(150))
		insertRecords(t, recs[lo:hi]...)
		lo = hi
	}

	windows := []leaderboard.Window{leaderboard.AllTimeWindow(), daily(-1), daily(0), weekly(0)}
	custom, err := leaderboard.CustomWindow(at(-2, "07:00"), at(1, "13:30"))
	require.NoError(t, err)
	windows = append(windows, custom)
	everything := map[int32]int64{0: math.MaxInt64, 1: math.MaxInt64, 2: math.MaxInt64, 7: 0}
	for _, board := range []string{snapBoard, b} {
		for _, w := range windows {
			for _, agg := range []leaderboard.Aggregation{leaderboard.Sum, leaderboard.Max} {
				want, err := store.Standings(ctx, board, w, agg)
				require.NoError(t, err)
				wantRows := []standing{}
				for _, s := range want {
					wantRows = append(wantRows, standing{s.PlayerID, s.Score, s.ReachedAt})
				}
				assert.Equal(t, wantRows, standingsAt(t, board, w, agg, everything, nil), "%s %s %s", board, w.Key(), agg)
				if board == snapBoard {
					assert.Equal(t, wantRows, standingsAt(t, board, w, agg, snapAll, nil), "%s %s %s, at the fixture's ends", board, w.Key(), agg)
				}
			}
		}
	}

	bound := func() map[int32]int64 {
		m := map[int32]int64{}
		for p := range int32(3) {
			if rng.IntN(6) > 0 { // sometimes absent
				m[p] = rng.Int64N(next[p] + 2)
			}
		}
		return m
	}
	for i := range 4 {
		upTo := bound()
		since := map[int32]int64{}
		for p, o := range upTo {
			if rng.IntN(4) > 0 {
				since[p] = rng.Int64N(o + 1)
			}
		}
		for _, w := range windows {
			var (
				in      []leaderboard.Event
				touched = map[string]bool{}
			)
			for _, d := range winner {
				if d.offset < upTo[d.partition] && w.Contains(d.e.OccurredAt) {
					in = append(in, d.e)
					if d.offset >= since[d.partition] {
						touched[d.e.PlayerID] = true
					}
				}
			}
			for _, agg := range []leaderboard.Aggregation{leaderboard.Sum, leaderboard.Max} {
				all, delta := []standing{}, []standing{}
				for _, s := range agg.Standings(in) {
					all = append(all, standing{s.PlayerID, s.Score, s.ReachedAt.UTC()})
					if touched[s.PlayerID] {
						delta = append(delta, all[len(all)-1])
					}
				}
				msg := fmt.Sprintf("draw %d: at %v since %v, %s %s", i, upTo, since, w.Key(), agg)
				assert.Equal(t, all, standingsAt(t, b, w, agg, upTo, nil), msg)
				assert.Equal(t, delta, standingsAt(t, b, w, agg, upTo, since), msg+", since")
			}
		}
	}
}

func TestMarks(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	insertSnapshotFixture(t)
	mark := func(s snapEvent) warehouse.Mark {
		return warehouse.Mark{EventID: s.e.EventID, PlayerID: s.e.PlayerID, OccurredAt: s.e.OccurredAt, Fingerprint: s.e.Fingerprint()}
	}
	for _, tc := range []struct {
		name  string
		board string
		from  time.Time
		upTo  map[int32]int64
		want  []snapEvent
	}{
		{name: "every winner, by player and event id", from: time.Time{}, upTo: snapAll,
			want: []snapEvent{sE1, sE3, sE7, sE2, sE5, sE4, sE6, sE8, sE9}},
		{name: "from is inclusive", from: at(0, "11:00"), upTo: snapAll, want: []snapEvent{sE7, sE2, sE5, sE9}},
		{name: "from within a millisecond", from: at(0, "11:00").Add(time.Nanosecond), upTo: snapAll, want: []snapEvent{sE7, sE5, sE9}},
		{name: "bound per partition, absent partition", from: time.Time{}, upTo: map[int32]int64{0: 1, 1: 11},
			want: []snapEvent{sE1, sE6}},
		{name: "a conflicting copy below the bound is no mark", from: at(1, "00:00"), upTo: map[int32]int64{0: 7, 1: 13, 2: 2}, want: nil},
		{name: "winner at its bound, copy below its own in another partition", from: at(0, "14:00"), upTo: map[int32]int64{0: 6, 1: 13, 2: 2}, want: nil},
		{name: "empty at", from: time.Time{}, upTo: map[int32]int64{}, want: nil},
		{name: "another board", board: "other", from: time.Time{}, upTo: snapAll, want: []snapEvent{{e: leaderboard.Event{
			EventID: "e1", BoardID: "other", PlayerID: "gil", Score: 10, OccurredAt: at(-30, "10:00")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			board := tc.board
			if board == "" {
				board = snapBoard
			}
			var want []warehouse.Mark
			for _, s := range tc.want {
				want = append(want, mark(s))
			}
			var got []warehouse.Mark
			require.NoError(t, store.Marks(ctx, board, tc.from, tc.upTo, func(m warehouse.Mark) error {
				require.Equal(t, time.UTC, m.OccurredAt.Location())
				got = append(got, m)
				return nil
			}))
			assert.Equal(t, want, got)
		})
	}
	stop := errors.New("stop")
	calls := 0
	err := store.Marks(ctx, snapBoard, time.Time{}, snapAll, func(warehouse.Mark) error { calls++; return stop })
	assert.Same(t, stop, err, "fn's error, unchanged")
	assert.Equal(t, 1, calls)
	assert.Equal(t, fmt.Sprintf(`500|%d|{"lvl":3}`, at(0, "08:00").UnixMilli()), mark(sE8).Fingerprint, "metadata in the fingerprint")
}

func TestActiveBoards(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	got, err := store.ActiveBoards(ctx, time.Time{})
	require.NoError(t, err)
	assert.Empty(t, got, "no board yet")

	insertSnapshotFixture(t)
	for _, id := range []string{"defined", "defined", "a-first"} { // defined twice: listed once
		_, err := store.PutBoard(ctx, id, "Defined", leaderboard.Max, at(0, "00:00"))
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		name  string
		since time.Time
		want  []string
	}{
		{"every board", time.Time{}, []string{"a-first", "defined", "other", "snap"}},
		{"since is inclusive", at(-30, "10:00"), []string{"a-first", "defined", "other", "snap"}},
		{"since within a millisecond", at(-30, "10:00").Add(time.Nanosecond), []string{"a-first", "defined", "snap"}},
		{"recent events", at(-1, "00:00"), []string{"a-first", "defined", "snap"}},
		{"definitions whatever since", at(30, "00:00"), []string{"a-first", "defined"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := store.ActiveBoards(ctx, tc.since)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.True(t, slices.IsSorted(got))
		})
	}
}

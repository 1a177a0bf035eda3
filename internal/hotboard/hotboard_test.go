package hotboard_test

import (
	"errors"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

// C9, C10, C11 and negative totals: exact tie-breaking in every window.
func TestRankingTies(t *testing.T) {
	e := newEnv(t, createAll())
	type evSpec struct {
		id, player string
		score      int64
		at         string
	}
	cases := []struct {
		name   string
		board  string
		events []evSpec
		want   []want
	}{
		{
			name:  "C9 ties: last event earlier wins",
			board: "b2",
			events: []evSpec{
				{"e1", "cat", 101, "10:00"}, {"e2", "amy", 100, "10:01"},
				{"e3", "bob", 100, "10:05"}, {"e4", "dan", 99, "10:06"},
			},
			want: []want{{"cat", 101}, {"amy", 100}, {"bob", 100}, {"dan", 99}},
		},
		{
			name:   "C10 same score same moment: player id bytewise",
			board:  "b3",
			events: []evSpec{{"e1", "zoe", 50, "10:00"}, {"e2", "abe", 50, "10:00"}},
			want:   []want{{"abe", 50}, {"zoe", 50}},
		},
		{
			name:   "C11 zero score is ranked",
			board:  "b4",
			events: []evSpec{{"e1", "amy", 50, "10:00"}, {"e2", "zed", 0, "10:00"}},
			want:   []want{{"amy", 50}, {"zed", 0}},
		},
		{
			name:  "C3 negative scores",
			board: "b1",
			events: []evSpec{
				{"e1", "amy", 100, "10:00"}, {"e2", "amy", -30, "10:05"}, {"e3", "bob", 10, "10:06"},
			},
			want: []want{{"amy", 70}, {"bob", 10}},
		},
		{
			name:  "negative totals rank below zero, reached_at counts negative events",
			board: "neg",
			events: []evSpec{
				{"e1", "dan", -100, "09:00"}, {"e2", "cat", -5, "09:00"}, {"e3", "bob", 0, "09:00"},
				{"e4", "amy", 1, "09:00"}, {"e5", "eve", -5, "08:00"}, {"e6", "fay", 5, "08:00"},
				{"e7", "fay", -5, "11:00"}, // fay: -0... total 0, reached 11:00 (latest, even negative)
				{"e8", "gus", 0, "08:30"},
			},
			want: []want{{"amy", 1}, {"gus", 0}, {"bob", 0}, {"fay", 0}, {"eve", -5}, {"cat", -5}, {"dan", -100}},
		},
		{
			name:  "bytewise player order: prefix first, upper before lower, UTF-8 after ASCII",
			board: "bytes",
			events: []evSpec{
				{"e1", "ab", 7, "10:00"}, {"e2", "a", 7, "10:00"}, {"e3", "B", 7, "10:00"},
				{"e4", "Zoë", 7, "10:00"}, {"e5", "Zo", 7, "10:00"}, {"e6", "a/b%20c", 7, "10:00"}, {"e7", "é", 7, "10:00"},
			},
			want: []want{{"B", 7}, {"Zo", 7}, {"Zoë", 7}, {"a", 7}, {"a/b%20c", 7}, {"ab", 7}, {"é", 7}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var evs []leaderboard.Event
			for _, x := range tc.events {
				evs = append(evs, ev(x.id, tc.board, x.player, x.score, e.at(x.at)))
			}
			for _, o := range e.apply(leaderboard.Sum, evs...) {
				require.Equal(t, hotboard.OutcomeApplied, o.Kind)
			}
			for _, w := range e.windows() {
				got := e.all(tc.board, w)
				require.Equal(t, tc.want, entriesOf(got), "window %s", w.Key())
				checkRanks(t, got, 1)
				// the same order as the domain's Less
				for i := 1; i < len(got); i++ {
					require.True(t, leaderboard.Less(got[i-1].Standing, got[i].Standing))
				}
				// every player's rank via Player agrees
				for i, x := range got {
					me, found, err := e.s.Player(e.ctx, tc.board, w, x.PlayerID)
					require.NoError(t, err)
					require.True(t, found)
					require.Equal(t, int64(i+1), me.Rank)
					require.Equal(t, x, me)
				}
			}
		})
	}

	t.Run("C9 top=2 and reached_at", func(t *testing.T) {
		top, err := e.s.Range(e.ctx, "b2", e.daily(), 0, 2)
		require.NoError(t, err)
		require.Equal(t, []string{"cat", "amy"}, players(top))
		require.Equal(t, e.at("10:01"), top[1].ReachedAt)
	})
	t.Run("C11 rank is never 0 and missing player is not found", func(t *testing.T) {
		me, found, err := e.s.Player(e.ctx, "b4", e.daily(), "amy")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, int64(1), me.Rank)
		_, found, err = e.s.Player(e.ctx, "b4", e.daily(), "nobody")
		require.NoError(t, err)
		require.False(t, found)
		above, below, _, found, err := e.s.Around(e.ctx, "b4", e.daily(), "nobody", 3)
		require.NoError(t, err)
		require.False(t, found)
		require.Empty(t, above)
		require.Empty(t, below)
	})
	t.Run("a missing hot window is empty while creation is on", func(t *testing.T) {
		// the store would have created it with its first event
		p, err := e.s.RangePage(e.ctx, "nope", e.daily(), 0, 10)
		require.NoError(t, err)
		require.Zero(t, p.Total)
		require.Empty(t, p.Entries)
		n, err := e.s.Count(e.ctx, "nope", leaderboard.AllTimeWindow())
		require.NoError(t, err)
		require.Zero(t, n)
		_, found, err := e.s.Player(e.ctx, "nope", e.daily(), "amy")
		require.NoError(t, err)
		require.False(t, found)
		ok, err := e.s.Exists(e.ctx, "nope", e.daily())
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("a missing window is not cached when it is not hot or creation is off", func(t *testing.T) {
		old := leaderboard.DailyWindow(e.D.AddDate(0, 0, -10))
		_, err := e.s.Range(e.ctx, "nope", old, 0, 10)
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
		e.s.SetCreateMissing(false)
		defer e.s.SetCreateMissing(true)
		_, err = e.s.Range(e.ctx, "nope", e.daily(), 0, 10)
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
		_, err = e.s.Count(e.ctx, "nope", leaderboard.AllTimeWindow())
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
		_, _, err = e.s.Player(e.ctx, "nope", e.daily(), "amy")
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
	})
}

// C1, C6: redelivered records (same offsets) change nothing at all.
func TestRedeliveryChangesNothing(t *testing.T) {
	e := newEnv(t, createAll())
	var evs []leaderboard.Event
	for i := range 10 {
		evs = append(evs, ev("e"+strconv.Itoa(i), "b1", "amy", 1, e.at("10:00:0"+strconv.Itoa(i))))
	}
	evs = append(evs, ev("e10", "b1", "bob", 5, e.at("10:01")))
	items := e.items(evs...)
	out, err := e.s.Apply(e.ctx, "b1", leaderboard.Sum, items, e.now)
	require.NoError(t, err)
	require.Equal(t, hotboard.OutcomeApplied, out[0].Kind)
	require.Equal(t, hotboard.WindowCreated, out[0].Windows[0].Result)
	require.Equal(t, hotboard.WindowApplied, out[1].Windows[0].Result)
	before := e.dump()

	cases := []struct {
		name  string
		items []hotboard.Item
	}{
		{"whole batch again", items},
		{"a suffix again", items[4:]},
		{"one record again", items[7:8]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.s.Apply(e.ctx, "b1", leaderboard.Sum, tc.items, e.now.Add(time.Minute))
			require.NoError(t, err)
			for _, o := range out {
				require.Equal(t, hotboard.OutcomeRedelivered, o.Kind)
			}
			require.Equal(t, before, e.dump())
		})
	}
	for _, w := range e.windows() {
		require.Equal(t, []want{{"amy", 10}, {"bob", 5}}, entriesOf(e.all("b1", w)))
	}
	wm, err := e.s.Watermarks(e.ctx, "b1")
	require.NoError(t, err)
	want := map[int32]int64{}
	for _, it := range items {
		want[it.Partition] = it.Offset + 1
	}
	require.Equal(t, want, wm)
}

// C2 and C8: the same identity at a new offset is a duplicate when the
// payload is the same, a conflict otherwise (the lowest offset wins).
func TestDuplicatesAndConflicts(t *testing.T) {
	e := newEnv(t, createAll())
	e1 := ev("e1", "b1", "amy", 100, e.at("10:00"))
	cases := []struct {
		name     string
		event    leaderboard.Event
		want     hotboard.OutcomeKind
		conflict int64
	}{
		{"first delivery", e1, hotboard.OutcomeApplied, 0},
		{"C2 same payload later", e1, hotboard.OutcomeDuplicate, 0},
		{"C8 other score", ev("e1", "b1", "amy", 999, e.at("10:00")), hotboard.OutcomeConflict, 1},
		{"other occurred_at, same day", ev("e1", "b1", "amy", 100, e.at("10:00:01")), hotboard.OutcomeConflict, 2},
		{"other occurred_at, other day bucket", ev("e1", "b1", "amy", 100, e.at("10:00").AddDate(0, 0, -3)), hotboard.OutcomeConflict, 3},
		{"metadata added", func() leaderboard.Event { x := e1; x.Metadata = []byte(`{"a":1}`); return x }(), hotboard.OutcomeConflict, 4},
		{"metadata added, same again", func() leaderboard.Event { x := e1; x.Metadata = []byte(`{"a":1}`); return x }(), hotboard.OutcomeConflict, 5},
		{"same identity other player is new", ev("e1", "b1", "bob", 100, e.at("10:00")), hotboard.OutcomeApplied, 5},
		{"C2 second event", ev("e2", "b1", "amy", 50, e.at("11:00")), hotboard.OutcomeApplied, 5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := e.apply(leaderboard.Sum, tc.event)
			require.Equal(t, tc.want, out[0].Kind)
			n, err := e.s.ConflictCount(e.ctx, "b1")
			require.NoError(t, err)
			require.Equal(t, tc.conflict, n)
		})
	}
	for _, w := range e.windows() {
		require.Equal(t, []want{{"amy", 150}, {"bob", 100}}, entriesOf(e.all("b1", w)))
	}
	cs, err := e.s.RecentConflicts(e.ctx, "b1")
	require.NoError(t, err)
	require.Len(t, cs, 5)
	c := cs[len(cs)-1] // oldest: the 999 one
	require.Equal(t, "e1", c.EventID)
	require.Equal(t, "amy", c.PlayerID)
	require.Equal(t, hotboard.Fingerprint(e1), c.AppliedPrint)
	require.Equal(t, hotboard.Fingerprint(ev("e1", "b1", "amy", 999, e.at("10:00"))), c.ConflictingPrint)
	require.Equal(t, e.now, c.SeenAt)

	t.Run("duplicates within one batch", func(t *testing.T) {
		x := ev("e9", "b1", "cat", 7, e.at("12:00"))
		out := e.apply(leaderboard.Sum, x, x, ev("e9", "b1", "cat", 8, e.at("12:00")))
		require.Equal(t, []hotboard.OutcomeKind{hotboard.OutcomeApplied, hotboard.OutcomeDuplicate, hotboard.OutcomeConflict},
			[]hotboard.OutcomeKind{out[0].Kind, out[1].Kind, out[2].Kind})
		me, found, err := e.s.Player(e.ctx, "b1", e.daily(), "cat")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, int64(7), me.Score)
	})
	t.Run("conflict list is bounded", func(t *testing.T) {
		e2 := newEnv(t, hotboard.Options{CreateMissing: true, ConflictCap: 3})
		x := ev("x", "cb", "amy", 1, e2.at("10:00"))
		e2.apply(leaderboard.Sum, x)
		for i := range 5 {
			e2.apply(leaderboard.Sum, ev("x", "cb", "amy", int64(i+2), e2.at("10:00")))
		}
		st, err := e2.s.Status(e2.ctx, "cb")
		require.NoError(t, err)
		require.Equal(t, int64(5), st.Conflicts)
		require.Len(t, st.RecentConflicts, 3)
	})
}

// Windows that are not hot are never created; with CreateMissing off no
// window is ever created, yet the records are marked and watermarked.
func TestWindowCreation(t *testing.T) {
	t.Run("missing non-hot window is never created", func(t *testing.T) {
		e := newEnv(t, createAll())
		old := e.D.AddDate(0, 0, -4).Add(10 * time.Hour) // its day ended 4 days ago: not hot
		daily := leaderboard.DailyWindow(old)
		require.False(t, daily.IsHot(e.now))
		out := e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, old))
		require.Equal(t, hotboard.OutcomeApplied, out[0].Kind)
		require.Equal(t, hotboard.WindowSkipped, out[0].Windows[0].Result)
		require.Equal(t, daily, out[0].Windows[0].Window)
		weekly := leaderboard.WeeklyWindow(old)
		wantWeekly := hotboard.WindowSkipped
		if weekly.IsHot(e.now) {
			wantWeekly = hotboard.WindowCreated
		}
		require.Equal(t, wantWeekly, out[0].Windows[1].Result)
		require.Equal(t, hotboard.WindowCreated, out[0].Windows[2].Result)
		require.Empty(t, e.keys("lb:{b1}:*:"+daily.Key()))
		ok, err := e.s.Exists(e.ctx, "b1", daily)
		require.NoError(t, err)
		require.False(t, ok)
		_, err = e.s.Range(e.ctx, "b1", daily, 0, 10)
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
		require.Equal(t, []want{{"amy", 5}}, entriesOf(e.all("b1", leaderboard.AllTimeWindow())))
	})
	t.Run("CreateMissing false never creates a window", func(t *testing.T) {
		e := newEnv(t, hotboard.Options{})
		require.False(t, e.s.CreateMissing())
		out := e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, e.at("10:00")), ev("e2", "b1", "bob", 6, e.at("10:00")))
		for _, o := range out {
			require.Equal(t, hotboard.OutcomeApplied, o.Kind)
			for _, w := range o.Windows {
				require.Equal(t, hotboard.WindowSkipped, w.Result)
			}
		}
		require.Empty(t, e.keys("lb:{b1}:[ztrm]:*"))
		for _, w := range e.windows() {
			_, err := e.s.Count(e.ctx, "b1", w)
			require.ErrorIs(t, err, leaderboard.ErrNotCached)
		}
		// the records are handled: a duplicate is recognised, watermarks moved
		out = e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, e.at("10:00")))
		require.Equal(t, hotboard.OutcomeDuplicate, out[0].Kind)
		wm, err := e.s.Watermarks(e.ctx, "b1")
		require.NoError(t, err)
		require.NotEmpty(t, wm)

		// a rebuild installs the all-time board; later events update it only
		require.NoError(t, e.s.Replace(e.ctx, "b1", leaderboard.AllTimeWindow(), []leaderboard.Standing{
			{PlayerID: "amy", Score: 5, ReachedAt: e.at("10:00")}, {PlayerID: "bob", Score: 6, ReachedAt: e.at("10:00")},
		}, wm))
		out = e.apply(leaderboard.Sum, ev("e3", "b1", "amy", 2, e.at("11:00")))
		require.Equal(t, []hotboard.WindowResult{hotboard.WindowSkipped, hotboard.WindowSkipped, hotboard.WindowApplied},
			[]hotboard.WindowResult{out[0].Windows[0].Result, out[0].Windows[1].Result, out[0].Windows[2].Result})
		require.Equal(t, []want{{"amy", 7}, {"bob", 6}}, entriesOf(e.all("b1", leaderboard.AllTimeWindow())))
		require.Empty(t, e.keys("lb:{b1}:[ztrm]:d*"))

		e.s.SetCreateMissing(true)
		out = e.apply(leaderboard.Sum, ev("e4", "b1", "amy", 1, e.at("12:00")))
		require.Equal(t, hotboard.WindowCreated, out[0].Windows[0].Result)
	})
	t.Run("aggregation cannot change", func(t *testing.T) {
		e := newEnv(t, createAll())
		e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, e.at("10:00")))
		before := e.dump()
		_, err := e.s.Apply(e.ctx, "b1", leaderboard.Max, e.items(ev("e2", "b1", "amy", 5, e.at("10:00"))), e.now)
		require.ErrorIs(t, err, leaderboard.ErrConflict)
		require.Equal(t, before, e.dump())
	})
	t.Run("invalid batches are rejected whole", func(t *testing.T) {
		e := newEnv(t, createAll())
		good := ev("e1", "b1", "amy", 5, e.at("10:00"))
		cases := []struct {
			name  string
			board string
			items []hotboard.Item
		}{
			{"other board", "b1", []hotboard.Item{{Offset: 0, Event: good}, {Offset: 1, Event: ev("e2", "b2", "amy", 1, e.at("10:00"))}}},
			{"score too big", "b1", []hotboard.Item{{Offset: 0, Event: ev("e2", "b1", "amy", leaderboard.MaxEventScore+1, e.at("10:00"))}}},
			{"offsets not increasing", "b1", []hotboard.Item{{Offset: 5, Event: good}, {Offset: 5, Event: ev("e2", "b1", "amy", 1, e.at("10:00"))}}},
			{"event id with space", "b1", []hotboard.Item{{Offset: 0, Event: ev("e 2", "b1", "amy", 1, e.at("10:00"))}}},
			{"bad board id", "B{x}", []hotboard.Item{{Offset: 0, Event: ev("e2", "B{x}", "amy", 1, e.at("10:00"))}}},
			{"before 1970", "b1", []hotboard.Item{{Offset: 0, Event: ev("e2", "b1", "amy", 1, time.Unix(-10, 0))}}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.s.Apply(e.ctx, tc.board, leaderboard.Sum, tc.items, e.now)
				require.ErrorIs(t, err, leaderboard.ErrInvalidArgument)
				require.Empty(t, e.keys("*"))
			})
		}
	})
}

// TTLs: daily and weekly keys expire at Window.HotUntil, all-time never,
// mark buckets at the end of the occurred_at day plus the horizon.
func TestTTLs(t *testing.T) {
	e := newEnv(t, hotboard.Options{CreateMissing: true, DedupHorizon: 10 * 24 * time.Hour})
	e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, e.at("10:00")))
	day := leaderboard.DailyWindow(e.D)
	cases := []struct {
		name string
		key  string
		want int64
	}{
		{"daily zset", "lb:{b1}:z:" + e.daily().Key(), e.daily().HotUntil().UnixMilli()},
		{"daily totals", "lb:{b1}:t:" + e.daily().Key(), e.daily().HotUntil().UnixMilli()},
		{"daily reached", "lb:{b1}:r:" + e.daily().Key(), e.daily().HotUntil().UnixMilli()},
		{"daily meta", "lb:{b1}:m:" + e.daily().Key(), e.daily().HotUntil().UnixMilli()},
		{"weekly zset", "lb:{b1}:z:" + e.weekly().Key(), e.weekly().HotUntil().UnixMilli()},
		{"weekly meta", "lb:{b1}:m:" + e.weekly().Key(), e.weekly().HotUntil().UnixMilli()},
		{"all-time zset", "lb:{b1}:z:all", -1},
		{"all-time totals", "lb:{b1}:t:all", -1},
		{"all-time meta", "lb:{b1}:m:all", -1},
		{"mark bucket", "lb:{b1}:mk:" + e.D.Format("20060102"), day.End.Add(10 * 24 * time.Hour).UnixMilli()},
		{"watermarks", "lb:{b1}:wm", -1},
		{"board meta", "lb:{b1}:bm", -1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.c.Do(e.ctx, e.c.B().Pexpiretime().Key(tc.key).Build()).AsInt64()
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, e.daily().End.Add(leaderboard.DailyRetention).UnixMilli(), e.daily().HotUntil().UnixMilli())
}

// Events older than the dedup horizon are not applied and flag the board.
func TestStaleEvents(t *testing.T) {
	e := newEnv(t, createAll())
	e.apply(leaderboard.Sum, ev("e1", "b1", "amy", 5, e.at("10:00")))
	old := e.D.AddDate(0, 0, -20)
	before := e.all("b1", leaderboard.AllTimeWindow())
	out := e.apply(leaderboard.Sum, ev("e2", "b1", "amy", 5, old))
	require.Equal(t, hotboard.OutcomeStale, out[0].Kind)
	// The board is not served until a rebuild covered the event: a read
	// would miss it.
	for _, w := range leaderboard.StandardWindows(e.at("10:00")) {
		_, err := e.s.RangePage(e.ctx, "b1", w, 0, 10)
		require.ErrorIs(t, err, leaderboard.ErrNotCached, w.Type)
	}
	st, err := e.s.Status(e.ctx, "b1")
	require.NoError(t, err)
	require.True(t, st.NeedsRebuild)
	require.Equal(t, int64(1), st.Stale)
	require.NoError(t, e.s.ClearNeedsRebuild(e.ctx, "b1", st.RebuildGen))
	st, err = e.s.Status(e.ctx, "b1")
	require.NoError(t, err)
	require.False(t, st.NeedsRebuild)
	require.Equal(t, before, e.all("b1", leaderboard.AllTimeWindow()), "nothing of the stale event was applied")
	require.Equal(t, hotboard.OutcomeStale, e.apply(leaderboard.Sum, ev("e3", "b1", "amy", 5, old))[0].Kind)
	require.NoError(t, e.s.ClearNeedsRebuild(e.ctx, "b1", st.RebuildGen)) // an older generation does not clear
	st, err = e.s.Status(e.ctx, "b1")
	require.NoError(t, err)
	require.True(t, st.NeedsRebuild)
	// the bucket of an event just inside the horizon is still kept
	edge := e.now.Add(-hotboard.DefaultDedupHorizon + 48*time.Hour)
	require.Equal(t, hotboard.OutcomeApplied, e.apply(leaderboard.Sum, ev("e4", "b1", "amy", 5, edge))[0].Kind)
}

// Totals that leave +-(2^53-1) make the window unreadable, never rounded;
// coming back in range makes it readable again, exactly.
func TestTotalOutOfRange(t *testing.T) {
	const big = leaderboard.MaxEventScore
	e := newEnv(t, createAll())
	n := int64(leaderboard.MaxExactTotal / big) // 9007 events of 1e12
	rest := leaderboard.MaxExactTotal - n*big
	mk := func(prefix, player string, k int64, score int64) []leaderboard.Event {
		out := make([]leaderboard.Event, k)
		for i := range out {
			out[i] = ev(prefix+strconv.Itoa(i), "big", player, score, e.at("10:00"))
		}
		return out
	}
	e.apply(leaderboard.Sum, append(mk("u", "up", n, big), ev("rest", "big", "up", rest, e.at("10:00")))...)
	e.apply(leaderboard.Sum, append(mk("d", "down", n, -big), ev("drest", "big", "down", -rest, e.at("10:00")))...)
	e.apply(leaderboard.Sum, ev("s", "big", "small", 1, e.at("10:00")))
	require.Equal(t, []want{{"up", leaderboard.MaxExactTotal}, {"small", 1}, {"down", -leaderboard.MaxExactTotal}}, entriesOf(e.all("big", e.daily())))

	reads := map[string]func(w leaderboard.Window) error{
		"count": func(w leaderboard.Window) error { _, err := e.s.Count(e.ctx, "big", w); return err },
		"range": func(w leaderboard.Window) error { _, err := e.s.Range(e.ctx, "big", w, 0, 10); return err },
		"after": func(w leaderboard.Window) error {
			_, err := e.s.After(e.ctx, "big", w, leaderboard.Standing{PlayerID: "x", Score: 5, ReachedAt: e.at("10:00")}, 10)
			return err
		},
		"player": func(w leaderboard.Window) error { _, _, err := e.s.Player(e.ctx, "big", w, "small"); return err },
		"around": func(w leaderboard.Window) error {
			_, _, _, _, err := e.s.Around(e.ctx, "big", w, "small", 2)
			return err
		},
	}
	steps := []struct {
		name    string
		player  string
		score   int64
		outside bool
		total   int64
	}{
		{"up crosses 2^53-1", "up", 1, true, leaderboard.MaxExactTotal + 1},
		{"up back to 2^53-1", "up", -1, false, leaderboard.MaxExactTotal},
		{"down crosses -(2^53-1)", "down", -1, true, -leaderboard.MaxExactTotal - 1},
		{"both outside", "up", big, true, leaderboard.MaxExactTotal + big},
		{"down back, up still outside", "down", 2, true, -leaderboard.MaxExactTotal + 1},
		{"up back", "up", -big, false, leaderboard.MaxExactTotal},
		{"up lower", "up", -3, false, leaderboard.MaxExactTotal - 3},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			e.apply(leaderboard.Sum, ev("step"+strconv.Itoa(i), "big", st.player, st.score, e.at("10:00")))
			for _, w := range e.windows() {
				for name, read := range reads {
					err := read(w)
					if st.outside {
						require.ErrorIs(t, err, leaderboard.ErrTotalOutOfRange, "%s %s", name, w.Key())
					} else {
						require.NoError(t, err, "%s %s", name, w.Key())
					}
				}
				ok, err := e.s.Exists(e.ctx, "big", w)
				require.NoError(t, err)
				require.True(t, ok)
			}
			if !st.outside {
				me, found, err := e.s.Player(e.ctx, "big", e.weekly(), st.player)
				require.NoError(t, err)
				require.True(t, found)
				require.Equal(t, st.total, me.Score)
				e.all("big", leaderboard.AllTimeWindow())
			}
		})
	}
	t.Run("exact total kept while outside", func(t *testing.T) {
		tot, err := e.c.Do(e.ctx, e.c.B().Hget().Key("lb:{big}:t:all").Field("up").Build()).ToString()
		require.NoError(t, err)
		require.Equal(t, strconv.FormatInt(leaderboard.MaxExactTotal-3, 10), tot)
	})
	t.Run("int64 overflow is detected and flags a rebuild", func(t *testing.T) {
		wm, err := e.s.Watermarks(e.ctx, "ovf")
		require.NoError(t, err)
		require.NoError(t, e.s.Replace(e.ctx, "ovf", leaderboard.AllTimeWindow(), []leaderboard.Standing{
			{PlayerID: "amy", Score: math.MaxInt64 - 5, ReachedAt: e.at("10:00")},
		}, wm))
		_, err = e.s.Count(e.ctx, "ovf", leaderboard.AllTimeWindow())
		require.ErrorIs(t, err, leaderboard.ErrTotalOutOfRange)
		e.apply(leaderboard.Sum, ev("o1", "ovf", "amy", 10, e.at("10:00")))
		e.apply(leaderboard.Sum, ev("o2", "ovf", "amy", -big, e.at("10:00")))
		_, err = e.s.Count(e.ctx, "ovf", leaderboard.AllTimeWindow())
		require.ErrorIs(t, err, leaderboard.ErrTotalOutOfRange)
		st, err := e.s.Status(e.ctx, "ovf")
		require.NoError(t, err)
		require.True(t, st.NeedsRebuild)
	})
}

// max keeps the best single score, reached at its earliest occurrence.
func TestMaxAggregation(t *testing.T) {
	e := newEnv(t, createAll())
	e.apply(leaderboard.Max,
		ev("e1", "mx", "amy", 50, e.at("10:00")),
		ev("e2", "mx", "amy", 80, e.at("10:05")),
		ev("e3", "mx", "bob", 80, e.at("10:03")),
		ev("e4", "mx", "amy", 80, e.at("10:02")), // arrives later, happened earlier: amy reached 80 at 10:02
		ev("e5", "mx", "amy", 30, e.at("10:10")),
		ev("e6", "mx", "cat", -5, e.at("10:00")),
		ev("e7", "mx", "cat", -7, e.at("09:00")),
		ev("e8", "mx", "dan", 80, e.at("10:03")),
		ev("e9", "mx", "dan", 80, e.at("10:04")),
	)
	for _, w := range e.windows() {
		got := e.all("mx", w)
		require.Equal(t, []want{{"amy", 80}, {"bob", 80}, {"dan", 80}, {"cat", -5}}, entriesOf(got))
		require.Equal(t, e.at("10:02"), got[0].ReachedAt)
		require.Equal(t, e.at("10:03"), got[2].ReachedAt)
		require.Equal(t, e.at("10:00"), got[3].ReachedAt)
	}
}

// Cursor pagination with After: every page boundary, ties, cursors whose
// player changed or vanished.
func TestAfterCursor(t *testing.T) {
	e := newEnv(t, createAll())
	var evs []leaderboard.Event
	// 30 players: scores in {10, 5, 0, -5}, many ties on score and reached_at
	for i := range 30 {
		p := "p" + strconv.Itoa(i)
		evs = append(evs, ev("e"+p, "cur", p, int64(10-5*(i%4)), e.at("10:0"+strconv.Itoa(i%3))))
	}
	e.apply(leaderboard.Sum, evs...)
	w := e.daily()
	full := e.all("cur", w)
	require.Len(t, full, 30)

	for size := int64(1); size <= 31; size++ {
		var got []leaderboard.Entry
		page, err := e.s.Range(e.ctx, "cur", w, 0, size)
		require.NoError(t, err)
		for len(page) > 0 {
			got = append(got, page...)
			page, err = e.s.After(e.ctx, "cur", w, page[len(page)-1].Standing, size)
			require.NoError(t, err)
		}
		require.Equal(t, full, got, "page size %d", size)
	}

	cases := []struct {
		name  string
		after leaderboard.Standing
		want  []leaderboard.Entry
	}{
		{"cursor before everything", leaderboard.Standing{PlayerID: "", Score: leaderboard.MaxExactTotal, ReachedAt: e.D}, full},
		{"score above the top", leaderboard.Standing{PlayerID: "zz", Score: 11, ReachedAt: e.at("23:00")}, full},
		{"score beyond the exact range", leaderboard.Standing{PlayerID: "zz", Score: math.MaxInt64, ReachedAt: e.D}, full},
		{"score below the bottom", leaderboard.Standing{PlayerID: "", Score: -6, ReachedAt: e.D}, nil},
		{"score beyond the exact range below", leaderboard.Standing{PlayerID: "", Score: math.MinInt64, ReachedAt: e.D}, nil},
		{"last entry", full[29].Standing, nil},
		{"vanished standing inside a tie group", leaderboard.Standing{PlayerID: "p4a", Score: full[3].Score, ReachedAt: full[3].ReachedAt}, nil},
		{"between scores", leaderboard.Standing{PlayerID: "x", Score: 7, ReachedAt: e.D}, nil},
	}
	// expected from the reference order
	for i := range cases {
		if cases[i].want != nil || cases[i].name == "last entry" {
			continue
		}
		for _, x := range full {
			if leaderboard.Less(cases[i].after, x.Standing) {
				cases[i].want = append(cases[i].want, x)
			}
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.s.After(e.ctx, "cur", w, tc.after, 100)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	t.Run("a player who moves does not disturb the others", func(t *testing.T) {
		cursor := full[9].Standing
		// the cursor's own player moves to the top; others keep their order
		e.apply(leaderboard.Sum, ev("move", "cur", cursor.PlayerID, 100, e.at("11:00")))
		got, err := e.s.After(e.ctx, "cur", w, cursor, 100)
		require.NoError(t, err)
		var wantPlayers []string
		for _, x := range full[10:] {
			wantPlayers = append(wantPlayers, x.PlayerID)
		}
		require.Equal(t, wantPlayers, players(got))
		checkRanks(t, got, 11) // the mover was already above them
	})
}

// C12: context at the edges, with Around.
func TestAroundEdges(t *testing.T) {
	e := newEnv(t, createAll())
	var evs []leaderboard.Event
	for i := 1; i <= 10; i++ {
		p := "p" + strconv.Itoa(100 + i)[1:]
		evs = append(evs, ev("e"+p, "ctx", p, int64(110-10*i), e.at("10:00")))
	}
	e.apply(leaderboard.Sum, evs...)
	cases := []struct {
		player       string
		context      int64
		above, below []string
		rank         int64
	}{
		{"p02", 2, []string{"p01"}, []string{"p03", "p04"}, 2},
		{"p01", 3, nil, []string{"p02", "p03", "p04"}, 1},
		{"p10", 3, []string{"p07", "p08", "p09"}, nil, 10},
		{"p05", 3, []string{"p02", "p03", "p04"}, []string{"p06", "p07", "p08"}, 5},
		{"p05", 0, nil, nil, 5},
		{"p05", 50, []string{"p01", "p02", "p03", "p04"}, []string{"p06", "p07", "p08", "p09", "p10"}, 5},
	}
	for _, tc := range cases {
		t.Run(tc.player+"/"+strconv.FormatInt(tc.context, 10), func(t *testing.T) {
			for _, w := range e.windows() {
				r, err := e.s.AroundView(e.ctx, "ctx", w, tc.player, tc.context)
				require.NoError(t, err)
				require.True(t, r.Found)
				require.Equal(t, int64(10), r.Total)
				require.Equal(t, tc.player, r.Me.PlayerID)
				require.Equal(t, tc.rank, r.Me.Rank)
				require.Equal(t, tc.above, nilIfEmpty(players(r.Above)))
				require.Equal(t, tc.below, nilIfEmpty(players(r.Below)))
				checkRanks(t, r.Above, tc.rank-int64(len(r.Above)))
				checkRanks(t, r.Below, tc.rank+1)
			}
		})
	}
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// Replace swaps a whole board in atomically: concurrent readers see the old
// board or the new one, never a mix; it refuses a snapshot taken at other
// watermarks.
func TestReplace(t *testing.T) {
	e := newEnv(t, createAll())
	w := leaderboard.AllTimeWindow()
	e.apply(leaderboard.Sum, ev("e1", "rb", "amy", 1, e.at("10:00")))
	wm, err := e.s.Watermarks(e.ctx, "rb")
	require.NoError(t, err)

	board := func(n int, score int64) []leaderboard.Standing {
		out := make([]leaderboard.Standing, n)
		for i := range out {
			out[i] = leaderboard.Standing{PlayerID: "p" + strconv.Itoa(i), Score: score, ReachedAt: e.at("10:00")}
		}
		return out
	}
	const nA, nB = 1500, 700 // several build chunks
	require.NoError(t, e.s.Replace(e.ctx, "rb", w, board(nA, 1), wm))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads, mixed int
	var mu sync.Mutex
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				p, err := e.s.RangePage(e.ctx, "rb", w, 0, hotboard.MaxPage)
				if err != nil {
					mu.Lock()
					mixed++
					mu.Unlock()
					continue
				}
				ok := len(p.Entries) == int(p.Total) && (p.Total == nA || p.Total == nB)
				for _, x := range p.Entries {
					ok = ok && x.Score == p.Entries[0].Score && (x.Score == 1) == (p.Total == nA)
				}
				mu.Lock()
				reads++
				if !ok {
					mixed++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range 10 {
		if i%2 == 0 {
			require.NoError(t, e.s.Replace(e.ctx, "rb", w, board(nB, 2), wm))
		} else {
			require.NoError(t, e.s.Replace(e.ctx, "rb", w, board(nA, 1), wm))
		}
	}
	close(stop)
	wg.Wait()
	require.Zero(t, mixed, "of %d reads", reads)
	require.NotZero(t, reads)
	require.Len(t, e.all("rb", w), nA)
	require.Empty(t, e.keys("lb:{rb}:tmp:*"))

	t.Run("watermark mismatch changes nothing", func(t *testing.T) {
		before := e.dump()
		stale := map[int32]int64{}
		for p, o := range wm {
			stale[p] = o - 1
		}
		err := e.s.Replace(e.ctx, "rb", w, board(3, 9), stale)
		require.ErrorIs(t, err, leaderboard.ErrConflict)
		var mm *hotboard.WatermarkMismatchError
		require.True(t, errors.As(err, &mm))
		require.Equal(t, wm, mm.Hot)
		require.Equal(t, before, e.dump())
	})
	t.Run("empty board and TTL of a daily replace", func(t *testing.T) {
		require.NoError(t, e.s.Replace(e.ctx, "rb", e.daily(), nil, wm))
		n, err := e.s.Count(e.ctx, "rb", e.daily())
		require.NoError(t, err)
		require.Zero(t, n)
		require.NoError(t, e.s.Replace(e.ctx, "rb", e.daily(), board(2, 5), wm))
		for _, k := range []string{"z", "t", "r", "m"} {
			got, err := e.c.Do(e.ctx, e.c.B().Pexpiretime().Key("lb:{rb}:"+k+":"+e.daily().Key()).Build()).AsInt64()
			require.NoError(t, err)
			require.Equal(t, e.daily().HotUntil().UnixMilli(), got, k)
		}
		for _, k := range []string{"z", "t", "r", "m"} {
			got, err := e.c.Do(e.ctx, e.c.B().Pexpiretime().Key("lb:{rb}:"+k+":all").Build()).AsInt64()
			require.NoError(t, err)
			require.Equal(t, int64(-1), got, k)
		}
		// Apply continues on the replaced board
		e.apply(leaderboard.Sum, ev("e2", "rb", "p1", 1, e.at("11:00")))
		require.Equal(t, []want{{"p1", 6}, {"p0", 5}}, entriesOf(e.all("rb", e.daily())))
	})
	t.Run("refuses bad input", func(t *testing.T) {
		err := e.s.Replace(e.ctx, "rb", e.daily(), []leaderboard.Standing{{PlayerID: "a", ReachedAt: e.D}, {PlayerID: "a", ReachedAt: e.D}}, wm)
		require.ErrorIs(t, err, leaderboard.ErrInvalidArgument)
		old := leaderboard.DailyWindow(e.D.AddDate(0, 0, -10))
		require.ErrorIs(t, e.s.Replace(e.ctx, "rb", old, nil, wm), leaderboard.ErrInvalidArgument)
	})
}

// After Valkey lost its data, nothing is created partially; a rebuild at
// the consumer's positions restores the board and raises the watermarks, so
// the records it contains are never applied again.
func TestRecoveryAfterDataLoss(t *testing.T) {
	e := newEnv(t, createAll())
	w := leaderboard.AllTimeWindow()
	before := e.items(ev("e1", "lost", "amy", 10, e.at("10:00")), ev("e2", "lost", "bob", 20, e.at("10:01")))
	_, err := e.s.Apply(e.ctx, "lost", leaderboard.Sum, before, e.now)
	require.NoError(t, err)

	e.srv.Restart()             // all data gone
	e.s.SetCreateMissing(false) // the service can no longer prove continuity

	// the consumer goes on from its committed offsets (retrying while the
	// client reconnects: Apply is idempotent)
	after := e.items(ev("e3", "lost", "amy", 1, e.at("11:00")))
	out := e.applyRetry("lost", after)
	require.Equal(t, hotboard.WindowSkipped, out[0].Windows[2].Result)
	_, err = e.s.Count(e.ctx, "lost", w)
	require.ErrorIs(t, err, leaderboard.ErrNotCached)

	// rebuild from the source of truth at the consumer's positions
	positions := map[int32]int64{}
	for _, it := range append(before, after...) {
		positions[it.Partition] = max(positions[it.Partition], it.Offset+1)
	}
	// Replace starts over when a connection of the client still reconnects.
	var rerr error
	for try := 0; try < 20; try++ {
		rerr = e.s.Replace(e.ctx, "lost", w, []leaderboard.Standing{
			{PlayerID: "amy", Score: 11, ReachedAt: e.at("11:00")}, {PlayerID: "bob", Score: 20, ReachedAt: e.at("10:01")},
		}, positions)
		if !errors.Is(rerr, leaderboard.ErrUnavailable) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, rerr)
	wm, err := e.s.Watermarks(e.ctx, "lost")
	require.NoError(t, err)
	require.Equal(t, positions, wm)

	// a redelivery of the old records changes nothing; new records apply
	out, err = e.s.Apply(e.ctx, "lost", leaderboard.Sum, before, e.now)
	require.NoError(t, err)
	for _, o := range out {
		require.Equal(t, hotboard.OutcomeRedelivered, o.Kind)
	}
	e.apply(leaderboard.Sum, ev("e4", "lost", "bob", 1, e.at("12:00")))
	require.Equal(t, []want{{"bob", 21}, {"amy", 11}}, entriesOf(e.all("lost", w)))
}

// A down Valkey is reported as leaderboard.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	e := newEnv(t, createAll())
	require.NoError(t, e.s.Ping(e.ctx))
	e.srv.Stop()
	require.ErrorIs(t, e.s.Ping(e.ctx), leaderboard.ErrUnavailable)
	_, err := e.s.Apply(e.ctx, "b1", leaderboard.Sum, e.items(ev("e1", "b1", "amy", 1, e.at("10:00"))), e.now)
	require.ErrorIs(t, err, leaderboard.ErrUnavailable)
	e.srv.Restart()
	// an empty Valkey: with CreateMissing off nothing would be created; here it is on
	e.applyRetry("b1", e.items(ev("e1", "b1", "amy", 1, e.at("10:00"))))
	require.Equal(t, []want{{"amy", 1}}, entriesOf(e.all("b1", e.daily())))
}

// Concurrent Apply calls on one board (one per partition, as several
// consumer goroutines would) and concurrent reads: every read is a
// consistent snapshot and the final ranking is exact.
func TestConcurrentApplyAndReads(t *testing.T) {
	e := newEnv(t, createAll())
	const writers, perWriter = 4, 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				close(readErr)
				return
			default:
			}
			p, err := e.s.RangePage(e.ctx, "cc", leaderboard.AllTimeWindow(), 0, hotboard.MaxPage)
			if err != nil && !errors.Is(err, leaderboard.ErrNotCached) {
				readErr <- err
				close(readErr)
				return
			}
			if err == nil && int64(len(p.Entries)) != p.Total {
				readErr <- errors.New("page and count disagree")
				close(readErr)
				return
			}
		}
	}()
	for wi := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				it := hotboard.Item{Partition: int32(wi), Offset: int64(i), Event: ev(
					"e"+strconv.Itoa(wi)+"-"+strconv.Itoa(i), "cc", "p"+strconv.Itoa(i%17), int64(i%5-1), e.at("10:00").Add(time.Duration(i)*time.Second))}
				if _, err := e.s.Apply(e.ctx, "cc", leaderboard.Sum, []hotboard.Item{it}, e.now); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	for err := range readErr {
		require.NoError(t, err)
	}
	totals := map[string]int64{}
	for range writers {
		for i := range perWriter {
			totals["p"+strconv.Itoa(i%17)] += int64(i%5 - 1)
		}
	}
	got := e.all("cc", leaderboard.AllTimeWindow())
	require.Len(t, got, 17)
	for _, x := range got {
		require.Equal(t, totals[x.PlayerID], x.Score, x.PlayerID)
	}
}

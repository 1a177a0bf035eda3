package hotboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

func standing(player string, score int64, at time.Time) leaderboard.Standing {
	return leaderboard.Standing{PlayerID: player, Score: score, ReachedAt: at.UTC()}
}

// A two-phase build: the second Put replaces the standings of players
// already in the build, and Commit swaps the result in whole.
func TestBuildUpsert(t *testing.T) {
	e := newEnv(t, createAll())
	w := e.daily()
	b, err := e.s.NewBuild(e.ctx, "bu", w, leaderboard.Sum)
	require.NoError(t, err)
	require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{
		standing("amy", 10, e.at("10:00")), standing("bob", 20, e.at("10:01")), standing("cat", 5, e.at("10:02")),
	}))
	require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{
		standing("amy", 30, e.at("11:00")), standing("dan", 1, e.at("11:01")),
	}))
	require.NoError(t, b.Commit(e.ctx, map[int32]int64{0: 7}, hotboard.CommitOptions{}))
	got := e.all("bu", w)
	require.Equal(t, []leaderboard.Entry{
		{Rank: 1, Standing: standing("amy", 30, e.at("11:00"))},
		{Rank: 2, Standing: standing("bob", 20, e.at("10:01"))},
		{Rank: 3, Standing: standing("cat", 5, e.at("10:02"))},
		{Rank: 4, Standing: standing("dan", 1, e.at("11:01"))},
	}, got)
	wm, err := e.s.Watermarks(e.ctx, "bu")
	require.NoError(t, err)
	require.Equal(t, map[int32]int64{0: 7}, wm)
	agg, ok, err := e.s.BoardAggregation(e.ctx, "bu")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, leaderboard.Sum, agg)

	t.Run("another aggregation is refused", func(t *testing.T) {
		b, err := e.s.NewBuild(e.ctx, "bu", w, leaderboard.Max)
		require.NoError(t, err)
		require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{standing("amy", 1, e.at("10:00"))}))
		require.ErrorIs(t, b.Commit(e.ctx, map[int32]int64{0: 7}, hotboard.CommitOptions{}), leaderboard.ErrConflict)
		require.Equal(t, got, e.all("bu", w))
	})
	t.Run("out of range totals are counted across upserts", func(t *testing.T) {
		b, err := e.s.NewBuild(e.ctx, "bo", w, leaderboard.Sum)
		require.NoError(t, err)
		require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{standing("amy", leaderboard.MaxExactTotal+1, e.at("10:00"))}))
		require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{standing("amy", 3, e.at("10:00"))}))
		require.NoError(t, b.Commit(e.ctx, nil, hotboard.CommitOptions{}))
		p, err := e.s.RangePage(e.ctx, "bo", w, 0, 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, p.Total)
	})
}

// After Valkey lost a board, seeded marks make a later copy of an event
// consumed before the loss a duplicate (or a conflict), never a new event.
func TestSeedMarks(t *testing.T) {
	e := newEnv(t, hotboard.Options{})
	orig := ev("e1", "sm", "amy", 10, e.at("10:00"))
	require.NoError(t, e.s.SeedMarks(e.ctx, "sm", []hotboard.Mark{
		{EventID: orig.EventID, PlayerID: orig.PlayerID, OccurredAt: orig.OccurredAt, Fingerprint: orig.Fingerprint()},
		// stale: never seeded, no error
		{EventID: "old", PlayerID: "amy", OccurredAt: e.now.AddDate(0, 0, -30), Fingerprint: "x"},
	}, time.Time{}))
	require.NoError(t, e.s.Replace(e.ctx, "sm", leaderboard.AllTimeWindow(), []leaderboard.Standing{standing("amy", 10, orig.OccurredAt)}, nil))

	conflicting := orig
	conflicting.Score = 99
	out := e.apply(leaderboard.Sum, orig, conflicting, ev("e2", "sm", "amy", 1, e.at("10:05")))
	require.Equal(t, hotboard.OutcomeDuplicate, out[0].Kind)
	require.Equal(t, hotboard.OutcomeConflict, out[1].Kind)
	require.Equal(t, hotboard.OutcomeApplied, out[2].Kind)
	got := e.all("sm", leaderboard.AllTimeWindow())
	require.Len(t, got, 1)
	require.EqualValues(t, 11, got[0].Score)
}

// While creation is off (Valkey lost data), a board whose rebuild recorded
// CompleteFrom gets windows starting after it created by events again;
// earlier windows stay not cached.
func TestCompleteFrom(t *testing.T) {
	e := newEnv(t, hotboard.Options{})
	today := leaderboard.DailyWindow(e.now)
	yesterday := e.daily()
	b, err := e.s.NewBuild(e.ctx, "cf", leaderboard.AllTimeWindow(), leaderboard.Sum)
	require.NoError(t, err)
	require.NoError(t, b.Commit(e.ctx, nil, hotboard.CommitOptions{CompleteFrom: today.Start}))

	_, err = e.s.Count(e.ctx, "cf", yesterday)
	require.ErrorIs(t, err, leaderboard.ErrNotCached, "a window before complete_from is not known empty")
	n, err := e.s.Count(e.ctx, "cf", today)
	require.NoError(t, err, "a window from complete_from on is known empty")
	require.Zero(t, n)

	out := e.apply(leaderboard.Sum, ev("e1", "cf", "amy", 5, e.at("10:00")), ev("e2", "cf", "amy", 7, today.Start.Add(time.Minute)))
	require.Equal(t, hotboard.WindowSkipped, out[0].Windows[0].Result, "yesterday is not created")
	require.Equal(t, hotboard.WindowApplied, out[0].Windows[2].Result, "all-time exists")
	require.Equal(t, hotboard.WindowCreated, out[1].Windows[0].Result, "today is created")
	require.EqualValues(t, 7, e.all("cf", today)[0].Score)
	require.EqualValues(t, 12, e.all("cf", leaderboard.AllTimeWindow())[0].Score)

	t.Run("complete_from is set once", func(t *testing.T) {
		b, err := e.s.NewBuild(e.ctx, "cf", leaderboard.AllTimeWindow(), leaderboard.Sum)
		require.NoError(t, err)
		require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{standing("amy", 12, today.Start.Add(time.Minute))}))
		require.NoError(t, b.Commit(e.ctx, e.wm("cf"), hotboard.CommitOptions{CompleteFrom: today.End}))
		n, err := e.s.Count(e.ctx, "cf", today)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})
}

func (e *env) wm(board string) map[int32]int64 {
	e.t.Helper()
	wm, err := e.s.Watermarks(e.ctx, board)
	require.NoError(e.t, err)
	return wm
}

// A snapshot is the window and its watermarks at one instant: events
// applied after it change neither.
func TestSnapshot(t *testing.T) {
	e := newEnv(t, createAll())
	for i := range 25 {
		e.apply(leaderboard.Sum, ev("e"+string(rune('a'+i)), "sn", "p"+string(rune('a'+i)), int64(i), e.at("10:00")))
	}
	w := e.daily()
	want := e.all("sn", w)
	wm := e.wm("sn")
	snap, err := e.s.Snapshot(e.ctx, "sn", w)
	require.NoError(t, err)
	defer snap.Close(context.Background())
	e.apply(leaderboard.Sum, ev("late", "sn", "zed", 1000, e.at("11:00")))

	var got []leaderboard.Entry
	require.NoError(t, snap.Each(e.ctx, func(en leaderboard.Entry) error { got = append(got, en); return nil }))
	require.Equal(t, want, got)
	require.Equal(t, wm, snap.Watermarks)
	require.False(t, snap.OutOfRange)
	require.False(t, snap.NeedsRebuild)

	_, err = e.s.Snapshot(e.ctx, "sn", leaderboard.DailyWindow(e.D.AddDate(0, 0, -3)))
	require.ErrorIs(t, err, leaderboard.ErrNotCached)
}

// A snapshot of a board larger than a page reads back whole: pages of
// MaxPage entries, totals fetched in pieces (Lua's unpack is bounded).
func TestSnapshotOfALargeBoard(t *testing.T) {
	e := newEnv(t, createAll())
	const n = hotboard.MaxPage + 2345
	st := make([]leaderboard.Standing, n)
	for i := range st {
		st[i] = leaderboard.Standing{PlayerID: fmt.Sprintf("p%06d", i), Score: int64(i % 777), ReachedAt: e.at("10:00").Add(time.Duration(i) * time.Millisecond)}
	}
	w := leaderboard.AllTimeWindow()
	require.NoError(t, e.s.Replace(e.ctx, "large", w, st, map[int32]int64{0: 1}))
	snap, err := e.s.Snapshot(e.ctx, "large", w)
	require.NoError(t, err)
	defer snap.Close(e.ctx)
	var got []leaderboard.Entry
	require.NoError(t, snap.Each(e.ctx, func(en leaderboard.Entry) error { got = append(got, en); return nil }))
	require.Equal(t, leaderboard.Rank(st), got)
}

// After a loss, windows the feed created (maybe after the loss, before the
// service noticed it) are not served until rebuilt; rebuilt windows and
// windows created under complete_from are.
func TestDistrustFeedCreated(t *testing.T) {
	e := newEnv(t, createAll())
	e.apply(leaderboard.Sum, ev("e1", "df", "amy", 5, e.at("10:00")))
	require.Len(t, e.all("df", e.daily()), 1)

	e.s.SetCreateMissing(false)
	e.s.DistrustFeedCreated()
	for _, w := range e.windows() {
		_, err := e.s.Count(e.ctx, "df", w)
		require.ErrorIs(t, err, leaderboard.ErrNotCached, w.Key())
		_, err = e.s.RangePage(e.ctx, "df", w, 0, 10)
		require.ErrorIs(t, err, leaderboard.ErrNotCached, w.Key())
	}
	today := leaderboard.DailyWindow(e.now)
	b, err := e.s.NewBuild(e.ctx, "df", e.daily(), leaderboard.Sum)
	require.NoError(t, err)
	require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{standing("amy", 5, e.at("10:00"))}))
	require.NoError(t, b.Commit(e.ctx, e.wm("df"), hotboard.CommitOptions{CompleteFrom: today.Start}))
	require.Len(t, e.all("df", e.daily()), 1, "rebuilt: trusted")
	_, err = e.s.Count(e.ctx, "df", e.weekly())
	require.ErrorIs(t, err, leaderboard.ErrNotCached, "not rebuilt: still distrusted")

	out := e.apply(leaderboard.Sum, ev("e2", "df", "bob", 1, today.Start.Add(time.Minute)))
	require.Equal(t, hotboard.WindowCreated, out[0].Windows[0].Result)
	require.Len(t, e.all("df", today), 1, "created under complete_from: trusted")
}

// A build during which Valkey lost its data is refused: its temporary keys
// hold only what was written since, and what the caller seeded meanwhile
// (identity marks) is gone too. Nothing is installed; complete_from is not
// recorded.
func TestBuildRefusedAfterValkeyLoss(t *testing.T) {
	tests := []struct {
		name   string
		before []leaderboard.Standing // written before the loss
		after  []leaderboard.Standing // and after it
	}{
		{"players before and after the loss", []leaderboard.Standing{{PlayerID: "amy", Score: 1}}, []leaderboard.Standing{{PlayerID: "bob", Score: 2}}},
		{"only after the loss", nil, []leaderboard.Standing{{PlayerID: "bob", Score: 2}}},
		{"an empty build", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, hotboard.Options{})
			for i := range tt.before {
				tt.before[i].ReachedAt = e.at("10:00")
			}
			for i := range tt.after {
				tt.after[i].ReachedAt = e.at("11:00")
			}
			b, err := e.s.NewBuild(e.ctx, "lost", e.daily(), leaderboard.Sum)
			require.NoError(t, err)
			if tt.before != nil {
				require.NoError(t, b.Put(e.ctx, tt.before))
			}
			require.NoError(t, e.c.Do(e.ctx, e.c.B().Flushall().Build()).Error())
			if tt.after != nil {
				require.NoError(t, b.Put(e.ctx, tt.after))
			}
			err = b.Commit(e.ctx, map[int32]int64{0: 5}, hotboard.CommitOptions{CompleteFrom: e.now})
			require.ErrorIs(t, err, leaderboard.ErrUnavailable)
			_, err = e.s.Count(e.ctx, "lost", e.daily())
			require.ErrorIs(t, err, leaderboard.ErrNotCached, "nothing installed")
			st, err := e.s.Status(e.ctx, "lost")
			require.NoError(t, err)
			require.True(t, st.CompleteFrom.IsZero(), "complete_from not recorded")
			keys, err := e.c.Do(e.ctx, e.c.B().Keys().Pattern("*").Build()).AsStrSlice()
			require.NoError(t, err)
			require.Empty(t, keys, "the build's keys are dropped")
		})
	}
}

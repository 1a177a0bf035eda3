package hotboard_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

// A window whose keys disagree (one lost on its own: an operator's DEL, a
// partial restore) is never served: every read and the snapshot say
// ErrInconsistent, which is ErrNotCached (reads fall back to ClickHouse),
// and a rebuild repairs it.
func TestInconsistentWindow(t *testing.T) {
	for _, kind := range []string{"z", "t", "r", "m"} {
		t.Run("without its "+kind+" key", func(t *testing.T) {
			e := newEnv(t, createAll())
			e.apply(leaderboard.Sum, ev("e1", "b", "amy", 10, e.at("10:00")), ev("e2", "b", "bob", 20, e.at("11:00")))
			w := e.daily()
			require.Len(t, e.all("b", w), 2)
			require.NoError(t, e.c.Do(e.ctx, e.c.B().Del().Key("lb:{b}:"+kind+":"+w.Key()).Build()).Error())

			_, err := e.s.RangePage(e.ctx, "b", w, 0, 10)
			require.ErrorIs(t, err, hotboard.ErrInconsistent)
			require.ErrorIs(t, err, leaderboard.ErrNotCached)
			_, err = e.s.Count(e.ctx, "b", w)
			require.ErrorIs(t, err, hotboard.ErrInconsistent)
			_, _, err = e.s.Player(e.ctx, "b", w, "amy")
			require.ErrorIs(t, err, hotboard.ErrInconsistent)
			_, _, _, _, err = e.s.Around(e.ctx, "b", w, "amy", 2)
			require.ErrorIs(t, err, hotboard.ErrInconsistent)
			_, err = e.s.Snapshot(e.ctx, "b", w)
			require.ErrorIs(t, err, hotboard.ErrInconsistent)
			require.Len(t, e.all("b", e.weekly()), 2, "the other windows are unharmed")

			b, err := e.s.NewBuild(e.ctx, "b", w, leaderboard.Sum)
			require.NoError(t, err)
			require.NoError(t, b.Put(e.ctx, []leaderboard.Standing{{PlayerID: "bob", Score: 20, ReachedAt: e.at("11:00")}, {PlayerID: "amy", Score: 10, ReachedAt: e.at("10:00")}}))
			require.NoError(t, b.Commit(e.ctx, e.offsets, hotboard.CommitOptions{}))
			require.Len(t, e.all("b", w), 2, "a rebuild repairs it")
		})
	}
	t.Run("a total under another player's name", func(t *testing.T) {
		// the counts agree: the scripts find the missing total while reading
		e := newEnv(t, createAll())
		e.apply(leaderboard.Sum, ev("e1", "b", "amy", 10, e.at("10:00")))
		w := e.daily()
		tk := "lb:{b}:t:" + w.Key()
		require.NoError(t, e.c.Do(e.ctx, e.c.B().Hdel().Key(tk).Field("amy").Build()).Error())
		require.NoError(t, e.c.Do(e.ctx, e.c.B().Hset().Key(tk).FieldValue().FieldValue("zed", "10").Build()).Error())
		_, err := e.s.RangePage(e.ctx, "b", w, 0, 10)
		require.ErrorIs(t, err, hotboard.ErrInconsistent)
		require.ErrorIs(t, err, leaderboard.ErrNotCached)
		snap, err := e.s.Snapshot(e.ctx, "b", w)
		require.NoError(t, err, "the counts agree: copied")
		defer snap.Close(e.ctx)
		err = snap.Each(e.ctx, func(leaderboard.Entry) error { return nil })
		require.ErrorIs(t, err, hotboard.ErrInconsistent)
	})
}

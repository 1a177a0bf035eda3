package hotboard_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
)

// Reads check, after their script, that Valkey kept its data (the
// service's marker key); when it did not, they read again under the
// settings the check installed: a lost window is not cached (never empty),
// a window the feed recreated since the loss is not served.
func TestReadsCheckValkeyKeptItsData(t *testing.T) {
	e := newEnv(t, createAll())
	const marker = "test:alive"
	require.NoError(t, e.c.Do(e.ctx, e.c.B().Set().Key(marker).Value("1").Build()).Error())
	checks := 0
	e.s.SetKeptCheck(func(ctx context.Context) (bool, error) {
		checks++
		n, err := e.c.Do(ctx, e.c.B().Exists().Key(marker).Build()).AsInt64()
		if err != nil || n == 1 {
			return err == nil, err
		}
		e.s.SetCreateMissing(false)
		e.s.DistrustFeedCreated()
		return false, nil
	})
	e.apply(leaderboard.Sum, ev("e1", "b", "amy", 10, e.at("10:00")), ev("e2", "b", "bob", 20, e.at("11:00")))
	require.Len(t, e.all("b", e.daily()), 2)
	require.Equal(t, 1, checks, "one check per read while the feed is trusted")

	require.NoError(t, e.c.Do(e.ctx, e.c.B().Flushall().Build()).Error())
	// the consumer, not knowing yet, recreates the weekly window with one event
	e.apply(leaderboard.Sum, ev("e3", "b", "carl", 5, e.at("12:00")))
	tests := []struct {
		name string
		w    leaderboard.Window
	}{
		// first: its script answers before the check, which finds the loss
		{"a window the feed recreated is not served", e.weekly()},
		{"a lost window is not taken for empty", leaderboard.DailyWindow(e.D.AddDate(0, 0, -1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.s.RangePage(e.ctx, "b", tt.w, 0, 10)
			require.ErrorIs(t, err, leaderboard.ErrNotCached)
		})
	}
	before := checks
	_, err := e.s.Count(e.ctx, "b", e.daily())
	require.ErrorIs(t, err, leaderboard.ErrNotCached)
	require.Equal(t, before, checks, "no check once feed-created windows are distrusted")
}

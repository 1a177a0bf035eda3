//go:build chdb

package warehouse_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
)

func TestBoardDefinitions(t *testing.T) {
	migrateEvents(t)
	ctx := context.Background()
	db := store.WithDatabase(eventsSchema.Database)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

	_, found, err := db.Board(ctx, "bd1")
	require.NoError(t, err)
	assert.False(t, found, "no definition, no events")

	b, err := db.PutBoard(ctx, "bd1", "First", leaderboard.Max, now)
	require.NoError(t, err)
	assert.True(t, b.Defined)
	// Two writes in the same millisecond (or a clock going back): the later
	// write still wins in the ReplacingMergeTree.
	_, err = db.PutBoard(ctx, "bd1", "Second", leaderboard.Sum, now)
	require.NoError(t, err)
	_, err = db.PutBoard(ctx, "bd1", "Third", leaderboard.Max, now.Add(-time.Hour))
	require.NoError(t, err)
	b, found, err = db.Board(ctx, "bd1")
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, "Third", b.Name)
	assert.Equal(t, leaderboard.Max, b.Aggregation)
	assert.False(t, b.HasEvents)
	agg, defined, err := db.BoardAggregation(ctx, "bd1")
	require.NoError(t, err)
	assert.True(t, defined)
	assert.Equal(t, leaderboard.Max, agg)

	// Events make the aggregation final; a board with events only is a sum board.
	_, err = db.DB().ExecContext(ctx, "INSERT INTO "+eventsSchema.Database+".events (board_id, player_id, event_id, score, occurred_at, src_offset, ver) VALUES "+
		"('bd1', 'amy', 'e1', 5, '2026-12-02 10:00:00', 1, 1), ('bd2', 'bob', 'e1', 7, '2026-12-02 10:00:00', 2, 2)")
	require.NoError(t, err)
	_, err = db.PutBoard(ctx, "bd1", "Renamed", leaderboard.Sum, now)
	assert.True(t, errors.Is(err, leaderboard.ErrConflict), "%v", err)
	b, err = db.PutBoard(ctx, "bd1", "Renamed", leaderboard.Max, now)
	require.NoError(t, err)
	assert.Equal(t, "Renamed", b.Name)
	_, err = db.PutBoard(ctx, "bd2", "Max now?", leaderboard.Max, now)
	assert.True(t, errors.Is(err, leaderboard.ErrConflict), "bd2 has sum events: %v", err)

	list, err := db.Boards(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	assert.Equal(t, "bd1", list[0].ID)
	assert.True(t, list[0].Defined && list[0].HasEvents)
	assert.Equal(t, "bd2", list[1].ID)
	assert.False(t, list[1].Defined)
	assert.Equal(t, leaderboard.Sum, list[1].Aggregation)

	// Reads around a player and after a cursor on the same data.
	w := leaderboard.AllTimeWindow()
	around, err := db.PlayerAround(ctx, "bd1", w, leaderboard.Max, "amy", 3)
	require.NoError(t, err)
	assert.True(t, around.Found)
	assert.Equal(t, int64(1), around.Total)
	assert.Equal(t, int64(1), around.Me.Rank)
	assert.Empty(t, around.Above)
	assert.Empty(t, around.Below)
	around, err = db.PlayerAround(ctx, "bd1", w, leaderboard.Max, "zed", 3)
	require.NoError(t, err)
	assert.False(t, around.Found)
	page, total, err := db.StandingsAfter(ctx, "bd1", w, leaderboard.Max, leaderboard.Standing{PlayerID: "amy", Score: 5, ReachedAt: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}, 10)
	require.NoError(t, err)
	assert.Empty(t, page, "nothing after the last entry")
	assert.Equal(t, int64(1), total)
	evs, err := db.PlayerEvents(ctx, "bd1", leaderboard.DailyWindow(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)), "amy")
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, int64(5), evs[0].Score)
	evs, err = db.PlayerEvents(ctx, "bd1", leaderboard.DailyWindow(time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)), "amy")
	require.NoError(t, err)
	assert.Empty(t, evs)
}

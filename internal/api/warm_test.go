package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/leaderboard"
)

// A standard window an automatic read had to answer from ClickHouse because
// Valkey does not hold it is handed to the warm hook; reads Valkey answered,
// forced ClickHouse reads and custom windows are not.
func TestWarmHook(t *testing.T) {
	boards := memBoards{"b1": boardOfSize(3)}
	hot := &fakeHot{boards: memBoards{"hot": boardOfSize(3)}}
	wh := &fakeWH{boards: boards}
	var warmed []string
	srv := newBareServer()
	srv.RegisterQueries(api.QueryDeps{Hot: hot, Warehouse: wh, Now: func() time.Time { return fakeNow },
		Warm: func(board string, w leaderboard.Window) { warmed = append(warmed, board+"/"+w.Key()) }})
	for _, tc := range []struct {
		name, path string
		warm       []string
	}{
		{"rankings not cached", "/leaderboards/b1/rankings?window=daily", []string{"b1/d20261203"}},
		{"player not cached", "/leaderboards/b1/players/p0001?window=alltime", []string{"b1/all"}},
		{"answered by valkey", "/leaderboards/hot/rankings?window=weekly", nil},
		{"forced clickhouse", "/leaderboards/b1/rankings?window=daily&source=clickhouse", nil},
		{"custom", "/leaderboards/b1/rankings?window=custom&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			warmed = nil
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			require.Equal(t, tc.warm, warmed)
		})
	}
}

// An unknown board is answered 404 and never warmed.
func TestWarmHookUnknownBoard(t *testing.T) {
	var warmed int
	srv := newBareServer()
	srv.RegisterQueries(api.QueryDeps{Hot: &fakeHot{}, Warehouse: &fakeWH{boards: memBoards{}}, Now: func() time.Time { return fakeNow },
		Warm: func(string, leaderboard.Window) { warmed++ }})
	for _, path := range []string{"/leaderboards/nope/rankings?window=daily", "/leaderboards/nope/players/p1?window=daily"} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusNotFound, rec.Code, rec.Body.String())
	}
	require.Zero(t, warmed)
}

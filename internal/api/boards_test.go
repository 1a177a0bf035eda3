package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

type fakeBoards struct{ puts int }

func (f *fakeBoards) Board(context.Context, string) (warehouse.Board, bool, error) {
	return warehouse.Board{}, false, nil
}

func (f *fakeBoards) Boards(context.Context) ([]warehouse.Board, error) { return nil, nil }

func (f *fakeBoards) PutBoard(_ context.Context, board, name string, agg leaderboard.Aggregation, now time.Time) (warehouse.Board, error) {
	f.puts++
	return warehouse.Board{ID: board, Name: name, Aggregation: agg, Defined: true, UpdatedAt: now}, nil
}

func TestPutBoardNeedsAdminToken(t *testing.T) {
	fb := &fakeBoards{}
	srv := api.New(api.Deps{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:   prometheus.NewRegistry(),
		Health:     health.New(time.Second, map[string]health.Probe{}),
		AdminToken: "s3cret",
	})
	var defined []string
	srv.RegisterQueries(api.QueryDeps{Boards: fb, Now: func() time.Time { return fakeNow },
		OnDefine: func(board string, agg leaderboard.Aggregation) { defined = append(defined, board+"="+string(agg)) }})
	put := func(token, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPut, "/leaderboards/promo", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		return rec
	}
	body := `{"name":"Spring promo","aggregation":"max"}`
	for _, tok := range []string{"", "wrong"} {
		rec := put(tok, body)
		status, code := errCode(t, rec)
		assert.Equal(t, 401, status)
		assert.Equal(t, "unauthenticated", code)
	}
	assert.Zero(t, fb.puts)
	rec := put("s3cret", body)
	require.Equal(t, 200, rec.Code, rec.Body.String())
	assert.JSONEq(t, `{"leaderboard_id":"promo","name":"Spring promo","aggregation":"max","defined":true,"has_events":false,"updated_at":"2026-12-03T10:15:02.120Z"}`, rec.Body.String())
	assert.Equal(t, []string{"promo=max"}, defined, "the consumer's catalog hears of the definition")
	rec = put("s3cret", strings.Repeat(" ", 17<<10))
	assert.Equal(t, 413, rec.Code)
	rec = put("s3cret", `{"name":"a\u0001b","aggregation":"max"}`)
	assert.Equal(t, 400, rec.Code)
}

func TestCanonicalLineAndCursor(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 15, 2, 120e6, time.UTC)
	line := api.CanonicalLine(nil, leaderboard.Entry{Rank: 3, Standing: leaderboard.Standing{PlayerID: "a\"b\\c<&>\u2028Zoë/%", Score: -7, ReachedAt: at}})
	assert.Equal(t, `{"rank":3,"player_id":"a\"b\\c<&>\u2028Zoë/%","score":-7,"reached_at":"2026-12-03T10:15:02.120Z"}`, string(line))

	for _, st := range []leaderboard.Standing{
		{PlayerID: "a|b|c", Score: -leaderboard.MaxExactTotal, ReachedAt: time.UnixMilli(0).UTC()},
		{PlayerID: "Zoë", Score: leaderboard.MaxExactTotal, ReachedAt: at},
	} {
		c := api.EncodeCursor(st)
		got, err := api.DecodeCursor(c)
		require.NoError(t, err)
		assert.Equal(t, st, got)
		assert.NotContains(t, c, "=")
	}
}

type fakeHotBoards map[string]leaderboard.Aggregation

func (f fakeHotBoards) BoardAggregation(_ context.Context, board string) (leaderboard.Aggregation, bool, error) {
	a, ok := f[board]
	return a, ok, nil
}

// ClickHouse may not have a board's first events yet while Valkey applied
// them: the hot store's aggregation counts as "the board has events".
func TestPutBoardChecksTheHotStore(t *testing.T) {
	fb := &fakeBoards{}
	srv := newBareServer()
	srv.RegisterQueries(api.QueryDeps{Boards: fb, HotBoards: fakeHotBoards{"hot": leaderboard.Sum}, Now: func() time.Time { return fakeNow }})
	cases := []struct {
		name, board, agg string
		status           int
	}{
		{"other aggregation than the hot board", "hot", "max", 409},
		{"same aggregation as the hot board", "hot", "sum", 200},
		{"board not in the hot store", "cold", "max", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPut, "/leaderboards/"+tc.board, strings.NewReader(`{"name":"n","aggregation":"`+tc.agg+`"}`))
			rec := httptest.NewRecorder()
			srv.Handler().ServeHTTP(rec, req)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
	assert.Equal(t, 2, fb.puts)
}

// stuckHotBoards is a hot store that never answers (Valkey down, its client
// waiting to reconnect).
type stuckHotBoards struct{}

func (stuckHotBoards) BoardAggregation(ctx context.Context, _ string) (leaderboard.Aggregation, bool, error) {
	<-ctx.Done()
	return "", false, ctx.Err()
}

// Valkey down: a definition is refused promptly with 503, not held until
// Valkey returns.
func TestPutBoardHotStoreDown(t *testing.T) {
	fb := &fakeBoards{}
	srv := newBareServer()
	srv.RegisterQueries(api.QueryDeps{Boards: fb, HotBoards: stuckHotBoards{}, HotTimeout: 100 * time.Millisecond, Now: func() time.Time { return fakeNow }})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodPut, "/leaderboards/b1", strings.NewReader(`{"name":"n","aggregation":"sum"}`))
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, "unavailable", errorCode(t, rec))
	assert.NoError(t, ctx.Err(), "answered before the request's own deadline")
	assert.Zero(t, fb.puts)
}

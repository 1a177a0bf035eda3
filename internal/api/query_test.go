package api_test

import (
	"context"
	b64 "encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// In-memory stores with the reference ranking (leaderboard.Rank), for the
// tests that need no Valkey or ClickHouse: parameter validation, store
// choice and fallback, cuts and cursors.

type memBoards map[string]map[string][]leaderboard.Standing // board -> window key -> standings

func (m memBoards) ranked(board string, w leaderboard.Window) ([]leaderboard.Entry, bool) {
	ws, ok := m[board]
	if !ok {
		return nil, false
	}
	st, ok := ws[w.Key()]
	return leaderboard.Rank(st), ok
}

func page(all []leaderboard.Entry, offset, limit int64) []leaderboard.Entry {
	if offset >= int64(len(all)) {
		return nil
	}
	return all[offset:min(int64(len(all)), offset+limit)]
}

func after(all []leaderboard.Entry, cur leaderboard.Standing, limit int64) []leaderboard.Entry {
	i := 0
	for i < len(all) && !leaderboard.Less(cur, all[i].Standing) {
		i++
	}
	return page(all, int64(i), limit)
}

type fakeHot struct {
	boards memBoards
	err    error // returned by every read when set
	reads  int
}

func (f *fakeHot) read(board string, w leaderboard.Window) ([]leaderboard.Entry, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	all, ok := f.boards.ranked(board, w)
	if !ok {
		return nil, fmt.Errorf("%w: fake", leaderboard.ErrNotCached)
	}
	return all, nil
}

func (f *fakeHot) RangePage(_ context.Context, board string, w leaderboard.Window, offset, limit int64) (hotboard.Page, error) {
	all, err := f.read(board, w)
	return hotboard.Page{Total: int64(len(all)), Entries: page(all, offset, limit)}, err
}

func (f *fakeHot) AfterPage(_ context.Context, board string, w leaderboard.Window, cur leaderboard.Standing, limit int64) (hotboard.Page, error) {
	all, err := f.read(board, w)
	return hotboard.Page{Total: int64(len(all)), Entries: after(all, cur, limit)}, err
}

func (f *fakeHot) AroundView(_ context.Context, board string, w leaderboard.Window, player string, n int64) (hotboard.AroundResult, error) {
	all, err := f.read(board, w)
	if err != nil {
		return hotboard.AroundResult{}, err
	}
	a := around(all, player, n)
	return hotboard.AroundResult{Total: a.Total, Found: a.Found, Me: a.Me, Above: a.Above, Below: a.Below}, nil
}

func around(all []leaderboard.Entry, player string, n int64) warehouse.Around {
	for i, e := range all {
		if e.PlayerID == player {
			return warehouse.Around{Total: int64(len(all)), Found: true, Me: e,
				Above: all[max(0, int64(i)-n):i], Below: all[i+1 : min(int64(len(all)), int64(i)+1+n)]}
		}
	}
	return warehouse.Around{Total: int64(len(all))}
}

type fakeWH struct {
	boards memBoards
	err    error
	reads  int
}

func (f *fakeWH) ranked(board string, w leaderboard.Window) ([]leaderboard.Entry, error) {
	f.reads++
	if f.err != nil {
		return nil, f.err
	}
	all, _ := f.boards.ranked(board, w)
	return all, nil
}

func (f *fakeWH) BoardAggregation(context.Context, string) (leaderboard.Aggregation, bool, error) {
	return leaderboard.Sum, false, f.err
}

func (f *fakeWH) BoardHasEvents(_ context.Context, board string) (bool, error) {
	_, ok := f.boards[board]
	return ok, f.err
}

func (f *fakeWH) StandingsPage(_ context.Context, board string, w leaderboard.Window, _ leaderboard.Aggregation, limit, offset int64) ([]leaderboard.Entry, int64, error) {
	all, err := f.ranked(board, w)
	return page(all, offset, limit), int64(len(all)), err
}

func (f *fakeWH) StandingsAfter(_ context.Context, board string, w leaderboard.Window, _ leaderboard.Aggregation, cur leaderboard.Standing, limit int64) ([]leaderboard.Entry, int64, error) {
	all, err := f.ranked(board, w)
	return after(all, cur, limit), int64(len(all)), err
}

func (f *fakeWH) PlayerAround(_ context.Context, board string, w leaderboard.Window, _ leaderboard.Aggregation, player string, n int64) (warehouse.Around, error) {
	all, err := f.ranked(board, w)
	return around(all, player, n), err
}

func (f *fakeWH) PlayerEvents(context.Context, string, leaderboard.Window, string) ([]warehouse.PlayerEvent, error) {
	return nil, f.err
}

func (f *fakeWH) Conflicts(context.Context, string, string) ([]warehouse.Conflict, error) {
	return nil, f.err
}

func (f *fakeWH) Count(_ context.Context, board string, w leaderboard.Window, _ leaderboard.Aggregation) (int64, error) {
	all, err := f.ranked(board, w)
	return int64(len(all)), err
}

func (f *fakeWH) Export(_ context.Context, board string, w leaderboard.Window, _ leaderboard.Aggregation, fn func(leaderboard.Entry) error) error {
	all, err := f.ranked(board, w)
	if err != nil {
		return err
	}
	for _, e := range all {
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// fixed clock: 2026-12-03 10:15:02.120 UTC.
var fakeNow = time.Date(2026, 12, 3, 10, 15, 2, 120e6, time.UTC)

type qserver struct {
	srv *api.Server
	hot *fakeHot
	wh  *fakeWH
}

// newBareServer is a server with no routes beyond the built-in ones, logging
// nowhere, with its own metrics registry and no health probes.
func newBareServer() *api.Server {
	return api.New(api.Deps{
		Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(),
		Health:   health.New(time.Second, map[string]health.Probe{}),
	})
}

func newQueryServer(t testing.TB, boards memBoards) *qserver {
	t.Helper()
	q := &qserver{hot: &fakeHot{boards: boards}, wh: &fakeWH{boards: boards}}
	q.srv = newBareServer()
	q.srv.RegisterQueries(api.QueryDeps{Hot: q.hot, Warehouse: q.wh, Exporter: q.wh, Now: func() time.Time { return fakeNow }})
	return q
}

func (q *qserver) get(path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	rec := httptest.NewRecorder()
	q.srv.Handler().ServeHTTP(rec, req)
	return rec
}

type rankingsResp struct {
	LeaderboardID string `json:"leaderboard_id"`
	Window        struct {
		Type  string  `json:"type"`
		Start *string `json:"start"`
		End   *string `json:"end"`
	} `json:"window"`
	TotalPlayers int64   `json:"total_players"`
	Source       string  `json:"source"`
	AsOf         string  `json:"as_of"`
	Entries      []entry `json:"entries"`
	NextCursor   *string `json:"next_cursor"`
}

type entry struct {
	Rank       int64              `json:"rank"`
	PlayerID   string             `json:"player_id"`
	Score      int64              `json:"score"`
	ReachedAt  string             `json:"reached_at"`
	Percentile leaderboard.Tenths `json:"percentile"`
}

type playerResp struct {
	TotalPlayers int64   `json:"total_players"`
	Source       string  `json:"source"`
	Player       entry   `json:"player"`
	Above        []entry `json:"above"`
	Below        []entry `json:"below"`
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var v T
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), rec.Body.String())
	return v
}

func errCode(t *testing.T, rec *httptest.ResponseRecorder) (int, string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.NotEmpty(t, body.Error.Message)
	return rec.Code, body.Error.Code
}

// boardOfSize has n players p0001.. with scores n..1 in every standard
// window of fakeNow's day.
func boardOfSize(n int) map[string][]leaderboard.Standing {
	st := make([]leaderboard.Standing, n)
	for i := range st {
		st[i] = leaderboard.Standing{PlayerID: fmt.Sprintf("p%04d", i+1), Score: int64(n - i), ReachedAt: fakeNow.Add(-time.Hour)}
	}
	out := map[string][]leaderboard.Standing{}
	for _, w := range leaderboard.StandardWindows(fakeNow) {
		out[w.Key()] = st
	}
	return out
}

func TestQueryParameterValidation(t *testing.T) {
	q := newQueryServer(t, memBoards{"b1": boardOfSize(3)})
	good := api.EncodeCursor(leaderboard.Standing{PlayerID: "p0001", Score: 3, ReachedAt: fakeNow})
	bad := []string{
		"/leaderboards/b1/rankings",                           // window required
		"/leaderboards/b1/rankings?window=hourly",             // unknown window
		"/leaderboards/b1/rankings?window=daily&foo=1",        // unknown parameter
		"/leaderboards/b1/rankings?window=daily&context=2",    // inapplicable parameter
		"/leaderboards/b1/rankings?window=daily&window=daily", // repeated
		"/leaderboards/b1/rankings?window=daily&limit=",       // empty
		"/leaderboards/b1/rankings?window=daily&%zz=1",        // malformed query
		"/leaderboards/b1/rankings?window=alltime&date=2026-12-03",
		"/leaderboards/b1/rankings?window=daily&from=2026-12-03T00:00:00Z",
		"/leaderboards/b1/rankings?window=weekly&to=2026-12-03T00:00:00Z",
		"/leaderboards/b1/rankings?window=daily&date=2026-13-01",
		"/leaderboards/b1/rankings?window=daily&date=2026-2-01",
		"/leaderboards/b1/rankings?window=daily&date=2026-02-30",
		"/leaderboards/b1/rankings?window=daily&date=20261203",
		"/leaderboards/b1/rankings?window=daily&date=1969-12-31",
		"/leaderboards/b1/rankings?window=custom",
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z",
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-03T00:00:00Z",                 // from = to
		"/leaderboards/b1/rankings?window=custom&from=2026-12-04T00:00:00Z&to=2026-12-03T00:00:00Z",                 // from > to
		"/leaderboards/b1/rankings?window=custom&from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00.001Z",             // 366 days + 1 ms
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03&to=2026-12-04T00:00:00Z",                           // not an instant
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00&to=2026-12-04T00:00:00Z",                  // no zone
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00.0001Z&to=2026-12-04T00:00:00Z",            // below ms
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&date=2026-12-03", // date with custom
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&source=cache",
		"/leaderboards/b1/rankings?window=daily&source=valkey",
		"/leaderboards/b1/rankings?window=daily&limit=0",
		"/leaderboards/b1/rankings?window=daily&limit=1001",
		"/leaderboards/b1/rankings?window=daily&limit=-1",
		"/leaderboards/b1/rankings?window=daily&limit=+5",
		"/leaderboards/b1/rankings?window=daily&limit=05",
		"/leaderboards/b1/rankings?window=daily&limit=5.0",
		"/leaderboards/b1/rankings?window=daily&offset=-1",
		"/leaderboards/b1/rankings?window=daily&offset=99999999999999999999",
		"/leaderboards/b1/rankings?window=daily&offset=0&cursor=" + good,
		"/leaderboards/b1/rankings?window=daily&cursor=xyz",
		"/leaderboards/b1/rankings?window=daily&cursor=" + good + "=",
		"/leaderboards/b1/rankings?window=daily&cursor=" + base64("1|3|abc|p1"),
		"/leaderboards/b1/rankings?window=daily&cursor=" + base64("2|3|0|p1"),
		"/leaderboards/b1/rankings?window=daily&cursor=" + base64("1|03|0|p1"),
		"/leaderboards/b1/rankings?window=daily&cursor=" + base64("1|3|0|"),
		"/leaderboards/b1/rankings?window=daily&cursor=" + base64("1|9007199254740992|0|p1"),
		"/leaderboards/b1/rankings?window=daily&top=0",
		"/leaderboards/b1/rankings?window=daily&top=1&top_percent=10",
		"/leaderboards/b1/rankings?window=daily&top_percent=0",
		"/leaderboards/b1/rankings?window=daily&top_percent=100.01",
		"/leaderboards/b1/rankings?window=daily&top_percent=10.123",
		"/leaderboards/b1/rankings?window=daily&top_percent=1e1",
		"/leaderboards/B1/rankings?window=daily", // invalid board id
		"/leaderboards/b1/players/amy?window=daily&context=51",
		"/leaderboards/b1/players/amy?window=daily&context=-1",
		"/leaderboards/b1/players/amy?window=daily&limit=5",
		"/leaderboards/b1/players/amy?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z&source=cache",
		"/leaderboards/b1/players/a%01b?window=daily",                            // control character
		"/leaderboards/b1/players/" + strings.Repeat("x", 129) + "?window=daily", // too long
		"/leaderboards/b1/players/amy/events?window=daily&source=cache",
		"/leaderboards/b1/players/amy/events?window=daily&context=1",
		"/leaderboards/b1/players/amy/events?window=alltime&date=2026-12-03",
		"/leaderboards?x=1",
		"/leaderboards/b1?window=daily",
		"/openapi.yaml?x=1",
	}
	for _, path := range bad {
		t.Run(path, func(t *testing.T) {
			rec := q.get(path)
			status, code := errCode(t, rec)
			assert.Equal(t, http.StatusBadRequest, status, rec.Body.String())
			assert.Equal(t, "invalid_argument", code)
		})
	}
	assert.Zero(t, q.hot.reads+q.wh.reads, "a rejected request reads no store")

	ok := []string{
		"/leaderboards/b1/rankings?window=daily",
		"/leaderboards/b1/rankings?window=daily&date=2026-12-03&limit=1000&offset=0",
		"/leaderboards/b1/rankings?window=weekly&date=2026-12-05",
		"/leaderboards/b1/rankings?window=alltime&source=cache&top_percent=100.00",
		"/leaderboards/b1/rankings?window=daily&cursor=" + good + "&top=2",
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00%2B01:00&to=2026-12-03T10:00:00.5Z",
		"/leaderboards/b1/rankings?window=custom&from=2025-01-01T00:00:00Z&to=2026-01-02T00:00:00Z", // exactly 366 days
		"/leaderboards/b1/players/p0001?window=daily&context=50",
		"/leaderboards/b1/players/p0001?window=daily&context=0&source=clickhouse",
	}
	for _, path := range ok {
		rec := q.get(path)
		assert.Equal(t, http.StatusOK, rec.Code, "%s: %s", path, rec.Body.String())
	}
}

func base64(s string) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(stdBase64(s)), "=")
}

func TestRankingsShapeAndWindows(t *testing.T) {
	q := newQueryServer(t, memBoards{"b1": boardOfSize(3)})
	r := decode[rankingsResp](t, q.get("/leaderboards/b1/rankings?window=weekly&date=2026-12-05"))
	assert.Equal(t, "b1", r.LeaderboardID)
	assert.Equal(t, "weekly", r.Window.Type)
	assert.Equal(t, "2026-11-30T00:00:00.000Z", *r.Window.Start)
	assert.Equal(t, "2026-12-07T00:00:00.000Z", *r.Window.End)
	assert.Equal(t, int64(3), r.TotalPlayers)
	assert.Equal(t, "cache", r.Source)
	assert.Equal(t, "2026-12-03T10:15:02.120Z", r.AsOf)
	assert.Nil(t, r.NextCursor)
	require.Len(t, r.Entries, 3)
	assert.Equal(t, entry{Rank: 1, PlayerID: "p0001", Score: 3, ReachedAt: "2026-12-03T09:15:02.120Z"}, r.Entries[0])

	// The raw JSON: next_cursor present as null, alltime bounds null.
	rec := q.get("/leaderboards/b1/rankings?window=alltime")
	assert.Contains(t, rec.Body.String(), `"next_cursor":null`)
	assert.Contains(t, rec.Body.String(), `"window":{"type":"alltime","start":null,"end":null}`)

	// A day without a hot board goes to ClickHouse; custom always does.
	r = decode[rankingsResp](t, q.get("/leaderboards/b1/rankings?window=daily&date=2026-12-01"))
	assert.Equal(t, "clickhouse", r.Source)
	assert.Zero(t, r.TotalPlayers)
	assert.NotNil(t, r.Entries)
	r = decode[rankingsResp](t, q.get("/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z"))
	assert.Equal(t, "clickhouse", r.Source)
	assert.Equal(t, "2026-12-03T00:00:00.000Z", *r.Window.Start)
}

func TestStoreChoiceAndErrors(t *testing.T) {
	q := newQueryServer(t, memBoards{"b1": boardOfSize(3)})
	// Forced cache on a cold window: 503 not_cached.
	status, code := errCode(t, q.get("/leaderboards/b1/rankings?window=daily&date=2026-12-01&source=cache"))
	assert.Equal(t, 503, status)
	assert.Equal(t, "not_cached", code)
	status, code = errCode(t, q.get("/leaderboards/b1/players/p0001?window=daily&date=2026-12-01&source=cache"))
	assert.Equal(t, 503, status)
	assert.Equal(t, "not_cached", code)

	// Unknown board (no definition, no events): 404, also with
	// source=cache; unknown player: 404.
	for _, path := range []string{"/leaderboards/nope/rankings?window=daily", "/leaderboards/nope/rankings?window=daily&source=cache",
		"/leaderboards/nope/players/amy?window=alltime&source=cache"} {
		status, code = errCode(t, q.get(path))
		assert.Equal(t, 404, status, path)
		assert.Equal(t, "not_found", code, path)
	}
	status, _ = errCode(t, q.get("/leaderboards/b1/players/zed?window=daily"))
	assert.Equal(t, 404, status)
	status, _ = errCode(t, q.get("/leaderboards/b1/players/zed?window=daily&source=clickhouse"))
	assert.Equal(t, 404, status)

	// Valkey down: standard windows fall back to ClickHouse...
	q.hot.err = fmt.Errorf("%w: fake valkey down", leaderboard.ErrUnavailable)
	r := decode[rankingsResp](t, q.get("/leaderboards/b1/rankings?window=daily"))
	assert.Equal(t, "clickhouse", r.Source)
	assert.Len(t, r.Entries, 3)
	p := decode[playerResp](t, q.get("/leaderboards/b1/players/p0002?window=daily"))
	assert.Equal(t, "clickhouse", p.Source)
	// ...forced cache answers 503 unavailable.
	status, code = errCode(t, q.get("/leaderboards/b1/rankings?window=daily&source=cache"))
	assert.Equal(t, 503, status)
	assert.Equal(t, "unavailable", code)

	// Both down: 503 unavailable, never a 500.
	q.wh.err = io.ErrUnexpectedEOF
	for _, path := range []string{"/leaderboards/b1/rankings?window=daily", "/leaderboards/b1/players/p0001?window=alltime",
		"/leaderboards/b1/rankings?window=custom&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z"} {
		status, code = errCode(t, q.get(path))
		assert.Equal(t, 503, status, path)
		assert.Equal(t, "unavailable", code, path)
	}

	// A total out of range is a 422 from either store, never a fallback.
	q.wh.err = nil
	q.hot.err = fmt.Errorf("%w: fake", leaderboard.ErrTotalOutOfRange)
	status, code = errCode(t, q.get("/leaderboards/b1/rankings?window=daily"))
	assert.Equal(t, 422, status)
	assert.Equal(t, "total_out_of_range", code)
}

func TestCutsOnSmallAndLargeBoards(t *testing.T) {
	sizes := []int{1, 7, 9, 10, 11, 1000}
	boards := memBoards{}
	for _, n := range sizes {
		boards[fmt.Sprintf("n%d", n)] = boardOfSize(n)
	}
	q := newQueryServer(t, boards)
	for _, n := range sizes {
		for _, src := range []string{"cache", "clickhouse"} {
			for _, pct := range []string{"0.01", "1", "7", "10", "33.33", "50", "99.99", "100"} {
				h, err := leaderboard.ParseTopPercent(pct)
				require.NoError(t, err)
				// ceil(P x n / 100) by integers, independently of TopPercentCut.
				want := (h*int64(n) + 9999) / 10000
				got := walk(t, q, fmt.Sprintf("/leaderboards/n%d/rankings?window=daily&source=%s&top_percent=%s", n, src, pct), 7)
				assert.Len(t, got, int(want), "n=%d top_percent=%s %s", n, pct, src)
			}
			for _, top := range []int{1, 2, 9, 10, 11, 999, 1000, 1001} {
				got := walk(t, q, fmt.Sprintf("/leaderboards/n%d/rankings?window=daily&source=%s&top=%d", n, src, top), 3)
				assert.Len(t, got, min(top, n), "n=%d top=%d %s", n, top, src)
			}
		}
	}
	// C13 exactly.
	for _, tc := range []struct {
		n    int
		pct  string
		want int
	}{{11, "10", 2}, {10, "10", 1}, {1, "10", 1}, {7, "7", 1}, {7, "100", 7}} {
		r := decode[rankingsResp](t, q.get(fmt.Sprintf("/leaderboards/n%d/rankings?window=daily&top_percent=%s", tc.n, tc.pct)))
		assert.Len(t, r.Entries, tc.want, "C13 n=%d top_percent=%s", tc.n, tc.pct)
		assert.Equal(t, int64(tc.n), r.TotalPlayers)
	}
	// Offset paging within a cut.
	r := decode[rankingsResp](t, q.get("/leaderboards/n1000/rankings?window=daily&top=25&offset=20&limit=10"))
	require.Len(t, r.Entries, 5)
	assert.Equal(t, int64(21), r.Entries[0].Rank)
	assert.Nil(t, r.NextCursor)
	r = decode[rankingsResp](t, q.get("/leaderboards/n1000/rankings?window=daily&top=25&offset=30"))
	assert.Empty(t, r.Entries)
	assert.Equal(t, int64(1000), r.TotalPlayers)
}

// walk follows next_cursor from path with the given limit and returns every
// entry seen; it checks ranks are consecutive from 1.
func walk(t *testing.T, q *qserver, path string, limit int) []entry {
	t.Helper()
	var all []entry
	url := fmt.Sprintf("%s&limit=%d", path, limit)
	for range 10000 {
		r := decode[rankingsResp](t, q.get(url))
		for _, e := range r.Entries {
			require.Equal(t, int64(len(all)+1), e.Rank, url)
			all = append(all, e)
		}
		if r.NextCursor == nil {
			return all
		}
		require.Len(t, r.Entries, limit, "a page before the last is full")
		url = fmt.Sprintf("%s&limit=%d&cursor=%s", path, limit, *r.NextCursor)
	}
	t.Fatal("the walk does not end")
	return nil
}

func TestPlayerContextEdges(t *testing.T) { // C12 on the reference stores
	st := make([]leaderboard.Standing, 10)
	for i := range st {
		st[i] = leaderboard.Standing{PlayerID: fmt.Sprintf("p%02d", i+1), Score: int64(100 - 10*i), ReachedAt: fakeNow}
	}
	q := newQueryServer(t, memBoards{"b": {leaderboard.DailyWindow(fakeNow).Key(): st}})
	for _, src := range []string{"cache", "clickhouse"} {
		checkC12(t, func(player string, ctx int) playerResp {
			return decode[playerResp](t, q.get(fmt.Sprintf("/leaderboards/b/players/%s?window=daily&context=%d&source=%s", player, ctx, src)))
		})
	}
}

func ids(es []entry) []string {
	out := []string{}
	for _, e := range es {
		out = append(out, e.PlayerID)
	}
	return out
}

// checkC12 asserts cases.md C12 through get(player, context).
func checkC12(t *testing.T, get func(player string, ctx int) playerResp) {
	t.Helper()
	for _, tc := range []struct {
		player       string
		ctx          int
		above, below []string
		pct          leaderboard.Tenths
	}{
		{"p02", 2, []string{"p01"}, []string{"p03", "p04"}, 800},
		{"p01", 3, []string{}, []string{"p02", "p03", "p04"}, 900},
		{"p10", 3, []string{"p07", "p08", "p09"}, []string{}, 0},
		{"p05", 3, []string{"p02", "p03", "p04"}, []string{"p06", "p07", "p08"}, 500},
	} {
		p := get(tc.player, tc.ctx)
		assert.Equal(t, tc.above, ids(p.Above), "%s above", tc.player)
		assert.Equal(t, tc.below, ids(p.Below), "%s below", tc.player)
		assert.Equal(t, tc.pct, p.Player.Percentile, "%s percentile", tc.player)
		assert.Equal(t, tc.player, p.Player.PlayerID)
		assert.Equal(t, int64(10), p.TotalPlayers)
		assert.True(t, slices.IsSortedFunc(append(append(slices.Clone(p.Above), p.Player), p.Below...),
			func(a, b entry) int { return int(a.Rank - b.Rank) }))
	}
}

func stdBase64(s string) string { return b64.StdEncoding.EncodeToString([]byte(s)) }

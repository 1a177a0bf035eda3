package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/recovery"
)

// fakeRecovery records the calls the admin endpoints make and answers what
// it is told to.
type fakeRecovery struct {
	mu         sync.Mutex
	rebuilds   []string // "board window-key"
	reconciles int
	ctxKeyVal  any  // the value of adminCtxKey seen by the last call
	deadline   bool // the last call's context had a deadline

	result recovery.Result
	report recovery.Report
	err    error
}

type adminCtxKey struct{}

func (f *fakeRecovery) Rebuild(ctx context.Context, board string, w leaderboard.Window) (recovery.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rebuilds = append(f.rebuilds, board+" "+w.Key())
	f.ctxKeyVal = ctx.Value(adminCtxKey{})
	_, f.deadline = ctx.Deadline()
	if f.err != nil {
		return recovery.Result{}, f.err
	}
	res := f.result
	res.Board, res.Window = board, w
	return res, nil
}

func (f *fakeRecovery) Reconcile(ctx context.Context) (recovery.Report, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reconciles++
	f.ctxKeyVal = ctx.Value(adminCtxKey{})
	_, f.deadline = ctx.Deadline()
	return f.report, f.err
}

func (f *fakeRecovery) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rebuilds) + f.reconciles
}

func newAdminServer(t *testing.T, token string, r api.Recovery) *api.Server {
	t.Helper()
	srv := api.New(api.Deps{
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:   prometheus.NewRegistry(),
		Health:     health.New(time.Second, map[string]health.Probe{}),
		AdminToken: token,
	})
	srv.RegisterAdmin(r)
	return srv
}

func adminDo(srv *api.Server, method, target, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

// adminError decodes the contract's error body.
func adminError(t *testing.T, rec *httptest.ResponseRecorder) (code, message string) {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.NotEmpty(t, body.Error.Message, rec.Body.String())
	return body.Error.Code, body.Error.Message
}

var adminResult = recovery.Result{
	Players:     1234,
	Positions:   map[int32]int64{0: 1042, 1: 998, 2: 1003},
	Changed:     7,
	SeededMarks: 2,
	Attempts:    1,
	Took:        1500*time.Millisecond + 250*time.Microsecond,
}

func TestAdminRebuildSuccess(t *testing.T) {
	cases := []struct {
		name, query, key, window string
	}{
		{"daily with a date", "window=daily&date=2026-12-03", "d20261203",
			`{"type":"daily","start":"2026-12-03T00:00:00.000Z","end":"2026-12-04T00:00:00.000Z"}`},
		{"weekly with any day of the week", "window=weekly&date=2026-12-03", "w20261130",
			`{"type":"weekly","start":"2026-11-30T00:00:00.000Z","end":"2026-12-07T00:00:00.000Z"}`},
		{"alltime", "window=alltime", "all", `{"type":"alltime","start":null,"end":null}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRecovery{result: adminResult}
			srv := newAdminServer(t, "", f)
			rec := adminDo(srv, http.MethodPost, "/admin/leaderboards/spring-promo/rebuild?"+tc.query, "", `{"ignored": true}`)
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.JSONEq(t, `{"leaderboard_id":"spring-promo","window":`+tc.window+`,"players":1234,"changed":7,"seeded_marks":2,`+
				`"attempts":1,"positions":{"0":1042,"1":998,"2":1003},"took_ms":1500.25}`, rec.Body.String())
			assert.Equal(t, []string{"spring-promo " + tc.key}, f.rebuilds)
		})
	}

	t.Run("daily defaults to today", func(t *testing.T) {
		f := &fakeRecovery{result: adminResult}
		srv := newAdminServer(t, "", f)
		before := leaderboard.DailyWindow(time.Now()).Key()
		rec := adminDo(srv, http.MethodPost, "/admin/leaderboards/promo/rebuild?window=daily", "", "")
		after := leaderboard.DailyWindow(time.Now()).Key()
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Len(t, f.rebuilds, 1)
		assert.Contains(t, []string{"promo " + before, "promo " + after}, f.rebuilds[0])
	})

	t.Run("no positions is an empty object", func(t *testing.T) {
		f := &fakeRecovery{}
		srv := newAdminServer(t, "", f)
		rec := adminDo(srv, http.MethodPost, "/admin/leaderboards/promo/rebuild?window=alltime", "", "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.JSONEq(t, `{"leaderboard_id":"promo","window":{"type":"alltime","start":null,"end":null},"players":0,"changed":0,`+
			`"seeded_marks":0,"attempts":0,"positions":{},"took_ms":0}`, rec.Body.String())
	})

	t.Run("runs under the request's context, with no deadline of its own", func(t *testing.T) {
		f := &fakeRecovery{result: adminResult}
		srv := newAdminServer(t, "", f)
		req := httptest.NewRequest(http.MethodPost, "/admin/leaderboards/promo/rebuild?window=alltime", nil)
		req = req.WithContext(context.WithValue(req.Context(), adminCtxKey{}, "from the request"))
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.Equal(t, "from the request", f.ctxKeyVal)
		assert.False(t, f.deadline)
	})
}

func TestAdminRebuildBadParameters(t *testing.T) {
	cases := []struct {
		name, target, msg string
	}{
		{"window missing", "/admin/leaderboards/promo/rebuild", "window: required"},
		{"custom window", "/admin/leaderboards/promo/rebuild?window=custom", "window: custom windows are never kept in Valkey"},
		{"custom window with a date", "/admin/leaderboards/promo/rebuild?window=custom&date=2026-12-03", "window: custom windows are never kept in Valkey"},
		{"custom window with from and to", "/admin/leaderboards/promo/rebuild?window=custom&from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z", "from: unknown parameter"},
		{"unknown window type", "/admin/leaderboards/promo/rebuild?window=hourly", "window: must be one of"},
		{"date with alltime", "/admin/leaderboards/promo/rebuild?window=alltime&date=2026-12-03", "date, from, to: do not apply to window=alltime"},
		{"malformed date", "/admin/leaderboards/promo/rebuild?window=daily&date=2026-12-3", "date: must be a date YYYY-MM-DD"},
		{"date out of range", "/admin/leaderboards/promo/rebuild?window=daily&date=1969-12-31", "date: the window must lie between"},
		{"empty date", "/admin/leaderboards/promo/rebuild?window=daily&date=", "date: must not be empty"},
		{"window given twice", "/admin/leaderboards/promo/rebuild?window=daily&window=weekly", "window: given more than once"},
		{"unknown parameter", "/admin/leaderboards/promo/rebuild?window=daily&limit=5", "limit: unknown parameter"},
		{"source is not a rebuild parameter", "/admin/leaderboards/promo/rebuild?window=daily&source=cache", "source: unknown parameter"},
		{"from outside custom", "/admin/leaderboards/promo/rebuild?window=daily&from=2026-12-01T00:00:00Z", "from: unknown parameter"},
		{"malformed query string", "/admin/leaderboards/promo/rebuild?window=daily&date=%zz", "query string: malformed"},
		{"invalid board id", "/admin/leaderboards/Not_A_Board/rebuild?window=daily", "leaderboard_id: must match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRecovery{result: adminResult}
			srv := newAdminServer(t, "", f)
			rec := adminDo(srv, http.MethodPost, tc.target, "", "")
			assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			code, msg := adminError(t, rec)
			assert.Equal(t, "invalid_argument", code)
			assert.Contains(t, msg, tc.msg)
			assert.Zero(t, f.calls(), "no rebuild for a bad request")
		})
	}
}

func TestAdminReconcileBadParameters(t *testing.T) {
	cases := []struct {
		name, query, msg string
	}{
		{"unknown parameter", "window=daily", "window: unknown parameter (this endpoint takes none)"},
		{"empty unknown parameter", "force=", "force: unknown parameter"},
		{"malformed query string", "a=%zz", "query string: malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRecovery{}
			srv := newAdminServer(t, "", f)
			rec := adminDo(srv, http.MethodPost, "/admin/reconcile?"+tc.query, "", "")
			assert.Equal(t, http.StatusBadRequest, rec.Code, rec.Body.String())
			code, msg := adminError(t, rec)
			assert.Equal(t, "invalid_argument", code)
			assert.Contains(t, msg, tc.msg)
			assert.Zero(t, f.calls())
		})
	}
}

func TestAdminTokenRequired(t *testing.T) {
	const token = "s3cret"
	targets := []struct{ name, path string }{
		{"rebuild", "/admin/leaderboards/promo/rebuild?window=alltime"},
		{"reconcile", "/admin/reconcile"},
	}
	cases := []struct {
		name, auth string
		status     int
	}{
		{"no header", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"wrong scheme", "Basic " + token, http.StatusUnauthorized},
		{"right token", "Bearer " + token, http.StatusOK},
		{"scheme is case-insensitive", "bearer " + token, http.StatusOK},
	}
	for _, tg := range targets {
		for _, tc := range cases {
			t.Run(tg.name+"/"+tc.name, func(t *testing.T) {
				f := &fakeRecovery{result: adminResult}
				srv := newAdminServer(t, token, f)
				req := httptest.NewRequest(http.MethodPost, tg.path, nil)
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				require.Equal(t, tc.status, rec.Code, rec.Body.String())
				if tc.status == http.StatusUnauthorized {
					code, _ := adminError(t, rec)
					assert.Equal(t, "unauthenticated", code)
					assert.NotEmpty(t, rec.Header().Get("WWW-Authenticate"))
					assert.Zero(t, f.calls(), "nothing runs without the token")
				} else {
					assert.Equal(t, 1, f.calls())
				}
			})
		}
	}

	t.Run("no token configured: open", func(t *testing.T) {
		f := &fakeRecovery{result: adminResult}
		srv := newAdminServer(t, "", f)
		assert.Equal(t, http.StatusOK, adminDo(srv, http.MethodPost, "/admin/reconcile", "", "").Code)
		assert.Equal(t, http.StatusOK, adminDo(srv, http.MethodPost, "/admin/leaderboards/promo/rebuild?window=alltime", "", "").Code)
	})
}

// Each domain sentinel the recovery returns is answered through the one
// error mapping.
func TestAdminErrorMapping(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"window too old to be hot", fmt.Errorf("%w: window d20250101 is no longer hot", leaderboard.ErrInvalidArgument), 400, "invalid_argument"},
		{"store down", fmt.Errorf("rebuild: %w: valkey: connection refused", leaderboard.ErrUnavailable), 503, "unavailable"},
		{"conflict", fmt.Errorf("%w: a rebuild of this window is running", leaderboard.ErrConflict), 409, "conflict"},
		{"unknown board", fmt.Errorf("%w: leaderboard promo has no definition and no events", leaderboard.ErrNotFound), 404, "not_found"},
		{"not cached", fmt.Errorf("%w: window not in valkey", leaderboard.ErrNotCached), 503, "not_cached"},
		{"anything else", errors.New("boom: secret detail"), 500, "internal"},
	}
	targets := []struct{ name, path string }{
		{"rebuild", "/admin/leaderboards/promo/rebuild?window=daily&date=2026-12-03"},
		{"reconcile", "/admin/reconcile"},
	}
	for _, tg := range targets {
		for _, tc := range cases {
			t.Run(tg.name+"/"+tc.name, func(t *testing.T) {
				f := &fakeRecovery{err: tc.err}
				srv := newAdminServer(t, "", f)
				rec := adminDo(srv, http.MethodPost, tg.path, "", "")
				require.Equal(t, tc.status, rec.Code, rec.Body.String())
				code, msg := adminError(t, rec)
				assert.Equal(t, tc.code, code)
				if tc.status == 500 {
					assert.Equal(t, "internal error", msg, "an unknown error's text is not shown")
				} else {
					assert.Equal(t, tc.err.Error(), msg)
				}
			})
		}
	}

	t.Run("no recovery configured", func(t *testing.T) {
		srv := newAdminServer(t, "", nil)
		for _, tg := range targets {
			rec := adminDo(srv, http.MethodPost, tg.path, "", "")
			require.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
			code, _ := adminError(t, rec)
			assert.Equal(t, "unavailable", code)
		}
	})

	t.Run("other methods", func(t *testing.T) {
		f := &fakeRecovery{}
		srv := newAdminServer(t, "", f)
		for _, tg := range targets {
			rec := adminDo(srv, http.MethodGet, tg.path, "", "")
			assert.Equal(t, http.StatusMethodNotAllowed, rec.Code, rec.Body.String())
		}
		assert.Zero(t, f.calls())
	})
}

func TestAdminReconcileBody(t *testing.T) {
	started := time.Date(2026, 12, 3, 10, 15, 2, 120e6, time.UTC)
	day := leaderboard.DailyWindow(started)
	cases := []struct {
		name   string
		report recovery.Report
		want   string
	}{
		{
			name:   "nothing differs",
			report: recovery.Report{Started: started, Took: 42 * time.Millisecond, Checked: 9, NotCached: 1},
			want: `{"started":"2026-12-03T10:15:02.120Z","took_ms":42,"checked":9,"not_cached":1,"loaded":0,"differing":0,` +
				`"repaired":0,"unrepaired":0,"checks":[]}`,
		},
		{
			name: "one repaired, one unrepaired",
			report: recovery.Report{Started: started, Took: 2*time.Second + 500*time.Microsecond, Checked: 12, NotCached: 3, Loaded: 2, Differing: 2, Repaired: 1, Unrepaired: 1,
				Checks: []recovery.Check{
					{Board: "promo", Window: day, Positions: map[int32]int64{0: 10, 1: 20}, HotPlayers: 100, ClickHousePlayers: 101,
						TopMatch: true, BoardMatch: false, Repaired: true},
					{Board: "other", Window: leaderboard.AllTimeWindow(), HotPlayers: 5, ClickHousePlayers: 5,
						TopMatch: true, BoardMatch: true, NeedsRebuild: true, Inconsistent: true, Unrepaired: true, Error: "rebuild: valkey down"},
				}},
			want: `{"started":"2026-12-03T10:15:02.120Z","took_ms":2000.5,"checked":12,"not_cached":3,"loaded":2,"differing":2,"repaired":1,"unrepaired":1,"checks":[` +
				`{"leaderboard_id":"promo","window":{"type":"daily","start":"2026-12-03T00:00:00.000Z","end":"2026-12-04T00:00:00.000Z"},` +
				`"positions":{"0":10,"1":20},"hot_players":100,"clickhouse_players":101,"top_match":true,"board_match":false,` +
				`"needs_rebuild":false,"inconsistent":false,"repaired":true,"unrepaired":false,"error":null},` +
				`{"leaderboard_id":"other","window":{"type":"alltime","start":null,"end":null},` +
				`"positions":{},"hot_players":5,"clickhouse_players":5,"top_match":true,"board_match":true,` +
				`"needs_rebuild":true,"inconsistent":true,"repaired":false,"unrepaired":true,"error":"rebuild: valkey down"}]}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeRecovery{report: tc.report}
			srv := newAdminServer(t, "", f)
			rec := adminDo(srv, http.MethodPost, "/admin/reconcile", "", "ignored body")
			require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			assert.JSONEq(t, tc.want, rec.Body.String())
			assert.Equal(t, 1, f.reconciles)
		})
	}
}

// TestAdminRoutesInOpenAPI: the admin routes and the /admin paths of
// openapi.yaml are the same (TestOpenAPIMatchesRoutes checks the whole API
// once the admin routes are registered there too).
func TestAdminRoutesInOpenAPI(t *testing.T) {
	srv := newAdminServer(t, "", nil)
	param := regexp.MustCompile(`:([A-Za-z_]+)`)
	var routes []string
	for _, r := range srv.Engine().Routes() {
		if strings.HasPrefix(r.Path, "/admin/") {
			routes = append(routes, r.Method+" "+param.ReplaceAllString(r.Path, "{$1}"))
		}
	}
	sort.Strings(routes)
	require.Len(t, routes, 2)

	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(api.OpenAPIYAML, &doc))
	var described []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/admin/") {
			continue
		}
		for m := range ops {
			if m != "parameters" && m != "summary" && m != "description" {
				described = append(described, strings.ToUpper(m)+" "+path)
			}
		}
	}
	sort.Strings(described)
	assert.Equal(t, routes, described)
}

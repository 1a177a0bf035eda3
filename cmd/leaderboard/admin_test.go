package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminStub is a stand-in for the service's admin API: it records the
// requests and answers a canned status and body.
type adminStub struct {
	mu       sync.Mutex
	requests []*http.Request
	status   int
	body     string
}

func (s *adminStub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(context.Background()))
	status, body := s.status, s.body
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (s *adminStub) last(t *testing.T) *http.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.requests, "the service was called")
	return s.requests[len(s.requests)-1]
}

func (s *adminStub) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

const rebuildOK = `{"leaderboard_id":"spring-promo","window":{"type":"daily","start":"2026-12-03T00:00:00.000Z","end":"2026-12-04T00:00:00.000Z"},` +
	`"players":1234,"changed":7,"seeded_marks":0,"attempts":1,"positions":{"10":5,"2":1003,"0":1042,"1":998},"took_ms":1500.25}`

func startStub(t *testing.T, status int, body string) (*adminStub, *httptest.Server) {
	t.Helper()
	stub := &adminStub{status: status, body: body}
	ts := httptest.NewServer(stub)
	t.Cleanup(ts.Close)
	return stub, ts
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func runAdmin(t *testing.T, args []string, vars map[string]string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, env(vars), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestAdminBaseURL(t *testing.T) {
	cases := []struct {
		name, addr, want string
		bad              bool
	}{
		{"unset: the default :8080", "", "http://127.0.0.1:8080", false},
		{"bare port", ":9090", "http://127.0.0.1:9090", false},
		{"any IPv4 address", "0.0.0.0:8081", "http://127.0.0.1:8081", false},
		{"any IPv6 address", "[::]:8082", "http://127.0.0.1:8082", false},
		{"loopback", "127.0.0.1:8083", "http://127.0.0.1:8083", false},
		{"a host name", "lb.internal:80", "http://lb.internal:80", false},
		{"an IPv6 host", "[::1]:8084", "http://[::1]:8084", false},
		{"no port", "localhost", "", true},
		{"empty port", "localhost:", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := adminBaseURL(tc.addr)
			if tc.bad {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "LEADERBOARD_HTTP_ADDR")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestRebuildFlags(t *testing.T) {
	stub, ts := startStub(t, http.StatusOK, rebuildOK)
	cases := []struct {
		name      string
		args      []string
		usage     string // non-empty: a usage error containing this
		wantPath  string
		wantQuery string
	}{
		{"daily with a date", []string{"--board", "spring-promo", "--window", "daily", "--date", "2026-12-03"}, "",
			"/admin/leaderboards/spring-promo/rebuild", "date=2026-12-03&window=daily"},
		{"weekly without a date", []string{"-board=promo", "-window=weekly"}, "",
			"/admin/leaderboards/promo/rebuild", "window=weekly"},
		{"alltime", []string{"--window", "alltime", "--board", "promo"}, "",
			"/admin/leaderboards/promo/rebuild", "window=alltime"},
		{"board is escaped in the path", []string{"--board", "a/b", "--window", "alltime"}, "",
			"/admin/leaderboards/a%2Fb/rebuild", "window=alltime"},
		{"board missing", []string{"--window", "daily"}, "--board is required", "", ""},
		{"window missing", []string{"--board", "promo"}, "--window is required", "", ""},
		{"custom window", []string{"--board", "promo", "--window", "custom"}, "must be daily, weekly or alltime", "", ""},
		{"unknown window", []string{"--board", "promo", "--window", "hourly"}, "must be daily, weekly or alltime", "", ""},
		{"date with alltime", []string{"--board", "promo", "--window", "alltime", "--date", "2026-12-03"}, "--date does not apply", "", ""},
		{"malformed date", []string{"--board", "promo", "--window", "daily", "--date", "2026-12-3"}, "must be a date YYYY-MM-DD", "", ""},
		{"unknown flag", []string{"--board", "promo", "--window", "daily", "--limit", "5"}, "flag provided but not defined", "", ""},
		{"flag without its value", []string{"--board"}, "flag needs an argument", "", ""},
		{"stray argument", []string{"--board", "promo", "--window", "daily", "extra"}, "unexpected argument", "", ""},
		{"bad url", []string{"--board", "promo", "--window", "daily", "--url", "ftp://x"}, "--url", "", ""},
		{"help", []string{"-h"}, "help requested", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := stub.count()
			// A --url of the case's own comes later and wins.
			args := append([]string{"rebuild", "--url", ts.URL}, tc.args...)
			_, _, err := runAdmin(t, args, nil)
			if tc.usage != "" {
				var u usageError
				require.ErrorAs(t, err, &u)
				assert.Contains(t, err.Error(), tc.usage)
				assert.Equal(t, before, stub.count(), "a usage error sends nothing")
				return
			}
			require.NoError(t, err)
			req := stub.last(t)
			assert.Equal(t, http.MethodPost, req.Method)
			assert.Equal(t, tc.wantPath, req.URL.EscapedPath())
			assert.Equal(t, tc.wantQuery, req.URL.RawQuery)
		})
	}
}

func TestReconcileFlags(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		usage string
	}{
		{"unknown flag", []string{"--board", "promo"}, "flag provided but not defined"},
		{"stray argument", []string{"now"}, "unexpected argument"},
		{"bad url", []string{"--url", "127.0.0.1:8080"}, "--url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runAdmin(t, append([]string{"reconcile"}, tc.args...), nil)
			var u usageError
			require.ErrorAs(t, err, &u)
			assert.Contains(t, err.Error(), tc.usage)
		})
	}
}

// The URL comes from LEADERBOARD_HTTP_ADDR unless --url is given; the admin
// token is sent when LEADERBOARD_ADMIN_TOKEN is set.
func TestAdminURLAndToken(t *testing.T) {
	stub, ts := startStub(t, http.StatusOK, rebuildOK)
	_, port, err := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	require.NoError(t, err)
	cases := []struct {
		name string
		vars map[string]string
		url  string
		auth string
	}{
		{"from a bare port, no token", map[string]string{"LEADERBOARD_HTTP_ADDR": ":" + port}, "", ""},
		{"from 0.0.0.0, with a token", map[string]string{"LEADERBOARD_HTTP_ADDR": "0.0.0.0:" + port, "LEADERBOARD_ADMIN_TOKEN": "s3cret"}, "", "Bearer s3cret"},
		{"--url wins over the address", map[string]string{"LEADERBOARD_HTTP_ADDR": ":1", "LEADERBOARD_ADMIN_TOKEN": "t"}, ts.URL + "/", "Bearer t"},
	}
	for _, tc := range cases {
		for _, cmd := range []string{"rebuild", "reconcile"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				args := []string{cmd}
				if cmd == "rebuild" {
					args = append(args, "--board", "promo", "--window", "alltime")
				}
				if tc.url != "" {
					args = append(args, "--url", tc.url)
				}
				_, _, err := runAdmin(t, args, tc.vars)
				require.NoError(t, err)
				req := stub.last(t)
				assert.Equal(t, tc.auth, req.Header.Get("Authorization"))
				assert.True(t, strings.HasPrefix(req.URL.Path, "/admin/"), req.URL.Path)
			})
		}
	}
}

func TestRebuildOutput(t *testing.T) {
	cases := []struct {
		name, body, want string
	}{
		{"daily", rebuildOK,
			"rebuilt spring-promo d20261203: 1234 players at positions 0:1042 1:998 2:1003 10:5 (changed 7, seeded marks 0, attempts 1), took 1.5s\n"},
		{"weekly", `{"leaderboard_id":"p","window":{"type":"weekly","start":"2026-11-30T00:00:00.000Z","end":"2026-12-07T00:00:00.000Z"},"players":3,"positions":{"0":4},"attempts":2,"took_ms":12.4}`,
			"rebuilt p w20261130: 3 players at positions 0:4 (changed 0, seeded marks 0, attempts 2), took 12ms\n"},
		{"alltime, no positions", `{"leaderboard_id":"p","window":{"type":"alltime","start":null,"end":null},"players":0,"positions":{},"attempts":1,"took_ms":0.4}`,
			"rebuilt p all: 0 players at positions none (changed 0, seeded marks 0, attempts 1), took 0s\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, ts := startStub(t, http.StatusOK, tc.body)
			out, _, err := runAdmin(t, []string{"rebuild", "--board", "p", "--window", "daily", "--url", ts.URL}, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, out)
		})
	}
}

func TestAdminErrorAnswers(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"window too old", 400, `{"error":{"code":"invalid_argument","message":"window d20250101 is no longer hot"}}`,
			[]string{"400", "invalid_argument", "window d20250101 is no longer hot"}},
		{"wrong token", 401, `{"error":{"code":"unauthenticated","message":"unauthorized: missing or wrong bearer token"}}`,
			[]string{"401", "unauthenticated", "LEADERBOARD_ADMIN_TOKEN"}},
		{"unknown board", 404, `{"error":{"code":"not_found","message":"not found: no such board"}}`, []string{"not_found", "no such board"}},
		{"conflict", 409, `{"error":{"code":"conflict","message":"conflict: a rebuild is running"}}`, []string{"conflict", "a rebuild is running"}},
		{"store down", 503, `{"error":{"code":"unavailable","message":"dependency unavailable: valkey"}}`, []string{"503", "unavailable"}},
		{"not the contract's body", 502, `<html>bad gateway</html>`, []string{"502", "Bad Gateway", "<html>bad gateway</html>"}},
		{"200 with garbage", 200, `not json`, []string{"not the expected JSON"}},
	}
	for _, tc := range cases {
		for _, cmd := range []string{"rebuild", "reconcile"} {
			t.Run(tc.name+"/"+cmd, func(t *testing.T) {
				_, ts := startStub(t, tc.status, tc.body)
				args := []string{cmd, "--url", ts.URL}
				if cmd == "rebuild" {
					args = append(args, "--board", "promo", "--window", "daily")
				}
				out, _, err := runAdmin(t, args, nil)
				require.Error(t, err)
				var u usageError
				assert.False(t, errors.As(err, &u), "a server error is not a usage error (exit 1)")
				for _, w := range tc.want {
					assert.Contains(t, err.Error(), w)
				}
				assert.Empty(t, out)
			})
		}
	}
}

func TestReconcileOutput(t *testing.T) {
	const clean = `{"started":"2026-12-03T10:15:02.120Z","took_ms":42,"checked":9,"not_cached":1,"loaded":0,"differing":0,"repaired":0,"unrepaired":0,"checks":[]}`
	const mixed = `{"started":"2026-12-03T10:15:02.120Z","took_ms":2000.5,"checked":12,"not_cached":3,"loaded":3,"differing":2,"repaired":1,"unrepaired":1,"checks":[` +
		`{"leaderboard_id":"promo","window":{"type":"daily","start":"2026-12-03T00:00:00.000Z","end":"2026-12-04T00:00:00.000Z"},` +
		`"positions":{"0":10,"1":20},"hot_players":100,"clickhouse_players":101,"top_match":true,"board_match":false,` +
		`"needs_rebuild":false,"repaired":true,"unrepaired":false,"error":null},` +
		`{"leaderboard_id":"other","window":{"type":"alltime","start":null,"end":null},` +
		`"positions":{},"hot_players":5,"clickhouse_players":5,"top_match":true,"board_match":true,` +
		`"needs_rebuild":true,"inconsistent":true,"repaired":false,"unrepaired":true,"error":"rebuild: valkey down"}]}`
	cases := []struct {
		name    string
		body    string
		want    string
		wantErr string
	}{
		{"nothing differs", clean,
			"reconcile: checked 9 hot windows held by valkey, 0 differing, 0 repaired; loaded 0 of 1 not held; 0 unrepaired; took 42ms\n", ""},
		{"one repaired, one unrepaired", mixed,
			"reconcile: checked 12 hot windows held by valkey, 2 differing, 1 repaired; loaded 3 of 3 not held; 1 unrepaired; took 2.001s\n" +
				"  promo d20261203: repaired; hot 100 players, clickhouse 101; top match true, board match false, needs rebuild false; positions 0:10 1:20\n" +
				"  other all: UNREPAIRED; hot 5 players, clickhouse 5; top match true, board match true, needs rebuild true; positions none; inconsistent in valkey; error: rebuild: valkey down\n",
			"1 window(s) still differ"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stub, ts := startStub(t, http.StatusOK, tc.body)
			out, _, err := runAdmin(t, []string{"reconcile", "--url", ts.URL}, nil)
			assert.Equal(t, tc.want, out)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
			}
			req := stub.last(t)
			assert.Equal(t, http.MethodPost, req.Method)
			assert.Equal(t, "/admin/reconcile", req.URL.Path)
			assert.Empty(t, req.URL.RawQuery)
		})
	}
}

func TestAdminUnreachable(t *testing.T) {
	// A port nothing listens on: open one, note it, close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, args := range [][]string{
		{"rebuild", "--board", "promo", "--window", "daily"},
		{"reconcile"},
	} {
		t.Run(args[0], func(t *testing.T) {
			_, _, err := runAdmin(t, args, map[string]string{"LEADERBOARD_HTTP_ADDR": addr})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "cannot reach the service at http://"+addr)
			var u usageError
			assert.False(t, errors.As(err, &u))
		})
	}
}

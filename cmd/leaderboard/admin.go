package main

// The operations on a running service (contract section 6): rebuild and
// reconcile are clients of its admin HTTP API, so they work while serve
// holds the embedded stores.

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/leaderboard"
)

// defaultHTTPAddr is LEADERBOARD_HTTP_ADDR's default (contract section 6).
const defaultHTTPAddr = ":8080"

// adminBaseURL is the URL a local client reaches the service at, from its
// listen address: a bare ":port", or an unspecified host (0.0.0.0, ::),
// means http://127.0.0.1:port.
func adminBaseURL(httpAddr string) (string, error) {
	if httpAddr == "" {
		httpAddr = defaultHTTPAddr
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil || port == "" {
		return "", fmt.Errorf("LEADERBOARD_HTTP_ADDR %q: not a host:port address (pass --url)", httpAddr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// adminClient calls the admin API of a running service.
type adminClient struct {
	base  string // no trailing slash
	token string // LEADERBOARD_ADMIN_TOKEN; empty: no Authorization header
	http  *http.Client
}

// newAdminClient adds the --url flag to fs; call client() after fs.Parse.
func newAdminClient(fs *flag.FlagSet, getenv func(string) string) func() (*adminClient, error) {
	rawURL := fs.String("url", "", "service base URL (default: from LEADERBOARD_HTTP_ADDR, http://127.0.0.1:8080)")
	return func() (*adminClient, error) {
		base := *rawURL
		if base == "" {
			var err error
			if base, err = adminBaseURL(getenv("LEADERBOARD_HTTP_ADDR")); err != nil {
				return nil, err
			}
		} else {
			u, err := url.Parse(base)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
				return nil, usageError{fmt.Sprintf("--url %q: must be an http:// or https:// base URL such as http://127.0.0.1:8080", base)}
			}
		}
		// No client timeout: a rebuild may take minutes; ctx (Ctrl-C) ends it.
		return &adminClient{base: strings.TrimRight(base, "/"), token: getenv("LEADERBOARD_ADMIN_TOKEN"), http: &http.Client{}}, nil
	}
}

// post sends POST base+path and decodes a 200 answer into out; any other
// answer becomes an error naming the server's code and message.
func (a *adminClient) post(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+path, nil)
	if err != nil {
		return fmt.Errorf("request to %s: %w", a.base, err)
	}
	req.Header.Set("Accept", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("request to %s abandoned: %w", a.base, ctx.Err())
		}
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return fmt.Errorf("cannot reach the service at %s: %v (is `leaderboard serve` running? set --url or LEADERBOARD_HTTP_ADDR)", a.base, op)
		}
		return fmt.Errorf("request to %s failed: %w", a.base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", a.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return answerError(resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("the service answered %s with a body that is not the expected JSON: %w", path, err)
	}
	return nil
}

// answerError turns a non-200 answer into an error with the contract's
// error code and message.
func answerError(status int, body []byte) error {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		snippet := strings.TrimSpace(string(body))
		if len(snippet) > 200 {
			snippet = snippet[:200] + "..."
		}
		return fmt.Errorf("the service answered %d %s: %s", status, http.StatusText(status), snippet)
	}
	msg := fmt.Sprintf("the service answered %d %s: %s", status, e.Error.Code, e.Error.Message)
	if status == http.StatusUnauthorized {
		msg += " (set LEADERBOARD_ADMIN_TOKEN to the service's admin token)"
	}
	return errors.New(msg)
}

// windowKey is a window answer's compact name (d20261203, w20261130, all).
func windowKey(w api.WindowJSON) string {
	win := leaderboard.Window{Type: w.Type}
	if w.Start != nil {
		t, err := time.Parse(time.RFC3339Nano, *w.Start)
		if err != nil {
			return string(w.Type) + " " + *w.Start
		}
		win.Start = t.UTC()
	}
	if w.End != nil {
		if t, err := time.Parse(time.RFC3339Nano, *w.End); err == nil {
			win.End = t.UTC()
		}
	}
	return win.Key()
}

// formatPositions shows positions as "0:1042 1:998" in partition order.
func formatPositions(p map[string]int64) string {
	if len(p) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(p))
	for k := range p {
		parts = append(parts, k)
	}
	sort.Slice(parts, func(i, j int) bool {
		a, errA := strconv.Atoi(parts[i])
		b, errB := strconv.Atoi(parts[j])
		if errA != nil || errB != nil {
			return parts[i] < parts[j]
		}
		return a < b
	})
	var b strings.Builder
	for i, k := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", k, p[k])
	}
	return b.String()
}

func formatTook(ms float64) string {
	return time.Duration(ms * float64(time.Millisecond)).Round(time.Millisecond).String()
}

// rebuildCmd: leaderboard rebuild --board ID --window daily|weekly|alltime [--date YYYY-MM-DD] [--url URL].
func rebuildCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rebuild", flag.ContinueOnError)
	fs.SetOutput(stderr)
	board := fs.String("board", "", "leaderboard id (required)")
	window := fs.String("window", "", "daily, weekly or alltime (required)")
	date := fs.String("date", "", "YYYY-MM-DD (UTC) of a daily or weekly window (default: today)")
	client := newAdminClient(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return usageError{"rebuild: " + err.Error()}
	}
	switch {
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("rebuild: unexpected argument %q", fs.Arg(0))}
	case *board == "":
		return usageError{"rebuild: --board is required"}
	case *window == "":
		return usageError{"rebuild: --window is required (daily, weekly or alltime)"}
	}
	switch leaderboard.WindowType(*window) {
	case leaderboard.Daily, leaderboard.Weekly:
	case leaderboard.AllTime:
		if *date != "" {
			return usageError{"rebuild: --date does not apply to --window alltime"}
		}
	default:
		return usageError{fmt.Sprintf("rebuild: --window %q: must be daily, weekly or alltime", *window)}
	}
	if *date != "" {
		if d, err := time.Parse("2006-01-02", *date); err != nil || d.Format("2006-01-02") != *date {
			return usageError{fmt.Sprintf("rebuild: --date %q: must be a date YYYY-MM-DD", *date)}
		}
	}
	c, err := client()
	if err != nil {
		return err
	}
	q := url.Values{"window": {*window}}
	if *date != "" {
		q.Set("date", *date)
	}
	var res api.RebuildResponse
	if err := c.post(ctx, "/admin/leaderboards/"+url.PathEscape(*board)+"/rebuild?"+q.Encode(), &res); err != nil {
		return fmt.Errorf("rebuild %s %s: %w", *board, *window, err)
	}
	fmt.Fprintf(stdout, "rebuilt %s %s: %d players at positions %s (changed %d, seeded marks %d, attempts %d), took %s\n",
		res.LeaderboardID, windowKey(res.Window), res.Players, formatPositions(res.Positions),
		res.Changed, res.SeededMarks, res.Attempts, formatTook(res.TookMS))
	return nil
}

// reconcileCmd: leaderboard reconcile [--url URL]. It fails when a window
// still differs after repair.
func reconcileCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("reconcile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	client := newAdminClient(fs, getenv)
	if err := fs.Parse(args); err != nil {
		return usageError{"reconcile: " + err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("reconcile: unexpected argument %q", fs.Arg(0))}
	}
	c, err := client()
	if err != nil {
		return err
	}
	var rep api.ReconcileResponse
	if err := c.post(ctx, "/admin/reconcile", &rep); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	fmt.Fprintf(stdout, "reconcile: checked %d hot windows held by valkey, %d differing, %d repaired; loaded %d of %d not held; %d unrepaired; took %s\n",
		rep.Checked, rep.Differing, rep.Repaired, rep.Loaded, rep.NotCached, rep.Unrepaired, formatTook(rep.TookMS))
	for _, ch := range rep.Checks {
		state := "differs"
		switch {
		case ch.Unrepaired:
			state = "UNREPAIRED"
		case ch.Repaired:
			state = "repaired"
		}
		line := fmt.Sprintf("  %s %s: %s; hot %d players, clickhouse %d; top match %t, board match %t, needs rebuild %t; positions %s",
			ch.LeaderboardID, windowKey(ch.Window), state, ch.HotPlayers, ch.ClickHousePlayers,
			ch.TopMatch, ch.BoardMatch, ch.NeedsRebuild, formatPositions(ch.Positions))
		if ch.Inconsistent {
			line += "; inconsistent in valkey"
		}
		if ch.Error != nil && *ch.Error != "" {
			line += "; error: " + *ch.Error
		}
		fmt.Fprintln(stdout, line)
	}
	if rep.Unrepaired > 0 {
		return fmt.Errorf("reconcile: %d window(s) still differ from ClickHouse after repair", rep.Unrepaired)
	}
	return nil
}

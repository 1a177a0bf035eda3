package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/recovery"
)

// Recovery is what the admin endpoints need (*recovery.Rebuilder /
// *recovery.Reconciler through the service). Errors wrap the leaderboard
// sentinels: ErrInvalidArgument for a window that cannot be rebuilt (too old
// to be hot), ErrUnavailable when a store is down, ErrConflict,
// ErrNotFound; they go through the one error mapping (errors.go).
type Recovery interface {
	Rebuild(ctx context.Context, board string, w leaderboard.Window) (recovery.Result, error)
	Reconcile(ctx context.Context) (recovery.Report, error)
}

type admin struct {
	q *queries // for windowParams (its clock is time.Now)
	r Recovery
}

// RegisterAdmin adds the admin operations, behind the admin token:
// POST /admin/leaderboards/:id/rebuild and POST /admin/reconcile. A nil r
// answers 503 unavailable.
func (s *Server) RegisterAdmin(r Recovery) {
	a := &admin{q: &queries{s: s, d: QueryDeps{Now: time.Now}}, r: r}
	s.engine.POST("/admin/leaderboards/:id/rebuild", s.RequireAdmin(), a.rebuild)
	s.engine.POST("/admin/reconcile", s.RequireAdmin(), a.reconcile)
}

// JSON shapes of the admin endpoints.

// positionsJSON shows per-partition offsets with the partition as the key
// ({"0": 123, "1": 98}); never null.
func positionsJSON(p map[int32]int64) map[string]int64 {
	out := make(map[string]int64, len(p))
	for part, off := range p {
		out[strconv.FormatInt(int64(part), 10)] = off
	}
	return out
}

// millis is a duration in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// RebuildResponse is the answer of POST /admin/leaderboards/:id/rebuild.
type RebuildResponse struct {
	LeaderboardID string           `json:"leaderboard_id"`
	Window        WindowJSON       `json:"window"`
	Players       int64            `json:"players"`
	Changed       int64            `json:"changed"`
	SeededMarks   int64            `json:"seeded_marks"`
	Attempts      int              `json:"attempts"`
	Positions     map[string]int64 `json:"positions"`
	TookMS        float64          `json:"took_ms"`
}

// ReconcileCheck is one window of a ReconcileResponse.
type ReconcileCheck struct {
	LeaderboardID     string           `json:"leaderboard_id"`
	Window            WindowJSON       `json:"window"`
	Positions         map[string]int64 `json:"positions"`
	HotPlayers        int64            `json:"hot_players"`
	ClickHousePlayers int64            `json:"clickhouse_players"`
	TopMatch          bool             `json:"top_match"`
	BoardMatch        bool             `json:"board_match"`
	NeedsRebuild      bool             `json:"needs_rebuild"`
	Inconsistent      bool             `json:"inconsistent"`
	Repaired          bool             `json:"repaired"`
	Unrepaired        bool             `json:"unrepaired"`
	Error             *string          `json:"error"` // null when none
}

// ReconcileResponse is the answer of POST /admin/reconcile.
type ReconcileResponse struct {
	Started    string           `json:"started"`
	TookMS     float64          `json:"took_ms"`
	Checked    int              `json:"checked"`
	NotCached  int              `json:"not_cached"`
	Loaded     int              `json:"loaded"`
	Differing  int              `json:"differing"`
	Repaired   int              `json:"repaired"`
	Unrepaired int              `json:"unrepaired"`
	Checks     []ReconcileCheck `json:"checks"`
}

func rebuildOf(board string, asked leaderboard.Window, res recovery.Result) RebuildResponse {
	w := asked
	if res.Window.Type != "" {
		w = res.Window
	}
	if res.Board != "" {
		board = res.Board
	}
	return RebuildResponse{LeaderboardID: board, Window: windowOf(w), Players: res.Players, Changed: res.Changed,
		SeededMarks: res.SeededMarks, Attempts: res.Attempts, Positions: positionsJSON(res.Positions), TookMS: millis(res.Took)}
}

func reconcileOf(rep recovery.Report) ReconcileResponse {
	out := ReconcileResponse{Started: leaderboard.FormatTime(rep.Started), TookMS: millis(rep.Took), Checked: rep.Checked,
		NotCached: rep.NotCached, Loaded: rep.Loaded, Differing: rep.Differing, Repaired: rep.Repaired, Unrepaired: rep.Unrepaired,
		Checks: make([]ReconcileCheck, 0, len(rep.Checks))}
	for _, ch := range rep.Checks {
		cj := ReconcileCheck{LeaderboardID: ch.Board, Window: windowOf(ch.Window), Positions: positionsJSON(ch.Positions),
			HotPlayers: ch.HotPlayers, ClickHousePlayers: ch.ClickHousePlayers, TopMatch: ch.TopMatch, BoardMatch: ch.BoardMatch,
			NeedsRebuild: ch.NeedsRebuild, Inconsistent: ch.Inconsistent, Repaired: ch.Repaired, Unrepaired: ch.Unrepaired}
		if ch.Error != "" {
			e := ch.Error
			cj.Error = &e
		}
		out.Checks = append(out.Checks, cj)
	}
	return out
}

func (a *admin) recovery() (Recovery, error) {
	if a.r == nil {
		return nil, fmt.Errorf("%w: recovery is not available (the hot store or ClickHouse is not configured)", leaderboard.ErrUnavailable)
	}
	return a.r, nil
}

// rebuild: POST /admin/leaderboards/:id/rebuild?window=daily|weekly|alltime[&date=YYYY-MM-DD].
// The body is ignored. The rebuild runs for as long as the request lasts.
func (a *admin) rebuild(c *gin.Context) {
	// A custom window is refused as such, before its missing from/to are.
	if p, err := readParams(c.Request.URL.RawQuery, "window", "date"); err == nil && p["window"] == string(leaderboard.Custom) {
		abort(c, invalid("window: custom windows are never kept in Valkey"))
		return
	}
	board, _, w, err := a.q.windowParams(c, "window", "date")
	if err != nil {
		abort(c, err)
		return
	}
	r, err := a.recovery()
	if err != nil {
		abort(c, err)
		return
	}
	res, err := r.Rebuild(c.Request.Context(), board, w)
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, rebuildOf(board, w, res))
}

// reconcile: POST /admin/reconcile runs one reconciliation and reports it.
func (a *admin) reconcile(c *gin.Context) {
	if _, err := readParams(c.Request.URL.RawQuery); err != nil {
		abort(c, err)
		return
	}
	r, err := a.recovery()
	if err != nil {
		abort(c, err)
		return
	}
	rep, err := r.Reconcile(c.Request.Context())
	if err != nil {
		abort(c, err)
		return
	}
	c.JSON(http.StatusOK, reconcileOf(rep))
}

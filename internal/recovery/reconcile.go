package recovery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

// DefaultTopN is how many leading entries the reconciler digests apart
// (the ranks that pay).
const DefaultTopN = 100

// Reconciler compares every hot window (leaderboard.HotWindows) of the
// active boards with ClickHouse at the hot board's own positions and repairs
// differences by rebuild.
//
// The two sides are aligned on offsets, never on time: the hot window and
// the board's watermarks are copied in one atomic step (hotboard.Snapshot),
// so the copy holds exactly what the hot store applied of the board's
// records below the watermarks; ClickHouse's standings are computed from the
// board's records below the same watermarks once ClickHouse has consumed up
// to them. Lag between the two consumers is waited out, never taken for
// drift. The two rankings are compared by player count and by SHA-256
// digests of the top N entries and of the whole ranking.
type Reconciler struct {
	r    *Rebuilder
	topN int
	// one run at a time: overlapping runs (the timer, the admin endpoint)
	// would rebuild the same windows twice and interleave their gauges
	mu sync.Mutex
}

// NewReconciler returns a Reconciler comparing the top topN entries apart
// (default DefaultTopN).
func NewReconciler(r *Rebuilder, topN int) *Reconciler {
	if topN <= 0 {
		topN = DefaultTopN
	}
	return &Reconciler{r: r, topN: topN}
}

// Reconcile runs one reconciliation of every active board.
func (rc *Reconciler) Reconcile(ctx context.Context) (Report, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	r := rc.r
	rep := Report{Started: r.cfg.Now().UTC()}
	start := time.Now()
	now := r.cfg.Now()
	windows, since := hotWindows(now)
	boards, err := r.wh.ActiveBoards(ctx, since)
	if err != nil {
		r.m.reconciled("failed")
		return rep, unavailable("clickhouse", err)
	}
	var found []Check // exported as a whole at the end
	for _, w := range windows {
		for _, board := range boards {
			c, err := rc.check(ctx, board, w)
			if errors.Is(err, hotboard.ErrInconsistent) {
				// held but broken (a key lost on its own): a difference,
				// repaired like one
				c.Inconsistent, err = true, nil
			}
			if errors.Is(err, leaderboard.ErrNotCached) {
				// A hot window Valkey does not hold (of a board that first
				// appeared after Valkey lost its data: the consumer creates
				// no window then): loading it is the repair.
				rep.NotCached++
				if _, err := r.rebuild(ctx, board, w, "reconcile"); err != nil {
					r.log.Warn("reconcile: loading a missing hot window failed", "board", board, "window", w.Key(), "err", err)
					c.Unrepaired, c.Error = true, "loading it from clickhouse: "+err.Error()
					rep.Unrepaired++
					rep.Checks = append(rep.Checks, c)
					continue
				}
				rep.Loaded++
				// its gauges, as loaded
				if again, err := rc.check(ctx, board, w); err == nil {
					found = append(found, again)
				}
				continue
			}
			rep.Checked++
			if err != nil {
				c.Unrepaired, c.Error = true, err.Error()
				rep.Unrepaired++
				rep.Checks = append(rep.Checks, c)
				continue
			}
			found = append(found, c)
			if !c.Differs() {
				continue
			}
			rep.Differing++
			r.log.Warn("hot window differs from clickhouse at aligned offsets; rebuilding", "board", board, "window", w.Key(),
				"hot_players", c.HotPlayers, "clickhouse_players", c.ClickHousePlayers, "top_match", c.TopMatch,
				"board_match", c.BoardMatch, "needs_rebuild", c.NeedsRebuild, "inconsistent", c.Inconsistent, "positions", c.Positions)
			if _, err := r.rebuild(ctx, board, w, "reconcile"); err != nil {
				c.Unrepaired, c.Error = true, err.Error()
			} else if again, err := rc.check(ctx, board, w); err != nil || again.Differs() {
				c.Unrepaired = true
				if err != nil {
					c.Error = err.Error()
				} else {
					c.Error = "still differs after the rebuild"
				}
			} else {
				c.Repaired = true
			}
			if c.Repaired {
				rep.Repaired++
			} else {
				rep.Unrepaired++
			}
			rep.Checks = append(rep.Checks, c)
		}
	}
	rep.Took = time.Since(start)
	rc.export(found, now)
	if r.m != nil {
		r.m.differing.Set(float64(rep.Differing))
		r.m.unrepaired.Set(float64(rep.Unrepaired))
	}
	switch {
	case rep.Unrepaired > 0:
		r.m.reconciled("unrepaired")
	case rep.Repaired > 0:
		r.m.reconciled("repaired")
	default:
		r.m.reconciled("ok")
	}
	r.log.Info("reconciliation finished", "checked", rep.Checked, "not_cached", rep.NotCached, "loaded", rep.Loaded, "differing", rep.Differing,
		"repaired", rep.Repaired, "unrepaired", rep.Unrepaired, "took", rep.Took.String())
	return rep, nil
}

func (m *Metrics) reconciled(result string) {
	if m != nil {
		m.reconciles.WithLabelValues(result).Inc()
	}
}

// export replaces the per-window gauges with the run's checks (before
// repair): windows no longer hot and boards no longer active disappear
// instead of keeping their last value.
func (rc *Reconciler) export(checks []Check, now time.Time) {
	m := rc.r.m
	if m == nil {
		return
	}
	m.countDiff.Reset()
	m.mismatch.Reset()
	for _, c := range checks {
		label := windowLabel(c.Window, now)
		m.countDiff.WithLabelValues(c.Board, label).Set(float64(c.HotPlayers - c.ClickHousePlayers))
		mis := 0.0
		if c.Differs() {
			mis = 1
		}
		m.mismatch.WithLabelValues(c.Board, label).Set(mis)
	}
}

// windowLabel names a hot window relative to now, so that the metrics'
// label values stay few: "daily", "weekly", "alltime" for the current
// windows, "daily-1" for yesterday, "weekly-1" for last week, and so on.
func windowLabel(w leaderboard.Window, now time.Time) string {
	var back int
	switch w.Type {
	case leaderboard.Daily:
		back = int(leaderboard.DailyWindow(now).Start.Sub(w.Start) / (24 * time.Hour))
	case leaderboard.Weekly:
		back = int(leaderboard.WeeklyWindow(now).Start.Sub(w.Start) / (7 * 24 * time.Hour))
	}
	if back == 0 {
		return string(w.Type)
	}
	return fmt.Sprintf("%s-%d", w.Type, back)
}

// check compares one window; an error wrapping leaderboard.ErrNotCached
// means Valkey does not hold it.
func (rc *Reconciler) check(ctx context.Context, board string, w leaderboard.Window) (Check, error) {
	r := rc.r
	c := Check{Board: board, Window: w}
	snap, err := r.hot.Snapshot(ctx, board, w)
	if err != nil {
		return c, err
	}
	defer snap.Close(ctx)
	c.Positions, c.NeedsRebuild = snap.Watermarks, snap.NeedsRebuild
	agg, _, err := r.wh.BoardAggregation(ctx, board)
	if err != nil {
		return c, unavailable("clickhouse", err)
	}
	if err := waitFor(ctx, r.cfg.ClickHouseOffsets, snap.Watermarks, r.cfg.CatchUpTimeout); err != nil {
		return c, err
	}
	hot := newDigest(rc.topN)
	if err := snap.Each(ctx, func(e leaderboard.Entry) error { hot.add(e.Standing); return nil }); err != nil {
		return c, unavailable("valkey", err)
	}
	ch := newDigest(rc.topN)
	if err := r.wh.StandingsAt(ctx, board, w, agg, snap.Watermarks, nil, func(st leaderboard.Standing) error {
		ch.add(st)
		return nil
	}); err != nil {
		return c, unavailable("clickhouse", err)
	}
	c.HotPlayers, c.ClickHousePlayers = hot.n, ch.n
	c.TopMatch = bytes.Equal(hot.top(), ch.top())
	c.BoardMatch = bytes.Equal(hot.all.Sum(nil), ch.all.Sum(nil))
	return c, nil
}

// digest hashes a ranking in order: rank, player, total, reached_at.
type digest struct {
	n        int64
	topN     int64
	all, tp  hash.Hash
	topFinal []byte
	line     []byte
}

func newDigest(topN int) *digest {
	return &digest{topN: int64(topN), all: sha256.New(), tp: sha256.New()}
}

func (d *digest) add(st leaderboard.Standing) {
	d.n++
	l := d.line[:0]
	l = strconv.AppendInt(l, d.n, 10)
	l = append(l, '|')
	l = strconv.AppendQuote(l, st.PlayerID)
	l = append(l, '|')
	l = strconv.AppendInt(l, st.Score, 10)
	l = append(l, '|')
	l = strconv.AppendInt(l, st.ReachedAt.UnixMilli(), 10)
	l = append(l, '\n')
	d.line = l
	d.all.Write(l)
	if d.n <= d.topN {
		d.tp.Write(l)
	}
}

func (d *digest) top() []byte {
	if d.topFinal == nil {
		d.topFinal = d.tp.Sum(nil)
	}
	return d.topFinal
}

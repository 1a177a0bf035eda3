package recovery

import (
	"context"
	"errors"
	"sync"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// hotWindows are the windows warm-ups and reconciliations cover, current
// ones first (see leaderboard.HotWindows), and the instant from which a
// board's last event makes it active: the start of the earliest of them, so
// that every board with an event in a hot daily or weekly window is covered.
func hotWindows(now time.Time) ([]leaderboard.Window, time.Time) {
	ws := leaderboard.HotWindows(now)
	since := ws[0].Start
	for _, w := range ws {
		if w.Type != leaderboard.AllTime && w.Start.Before(since) {
			since = w.Start
		}
	}
	return ws, since
}

// WarmReport is what one warm-up did.
type WarmReport struct {
	Boards, Cached, Rebuilt, Failed, Skipped int
	Took                                     time.Duration
}

// WarmUp checks the hot windows (see leaderboard.HotWindows) of every active
// board and rebuilds those Valkey does not hold. With force, it rebuilds them
// all (after Valkey lost data while the service ran, a window created since
// may be partial). Every board's current windows come before any earlier
// day or week. The whole run is bounded by timeout; what is left is reported
// and answered from ClickHouse meanwhile (and warmed by reads).
func (r *Rebuilder) WarmUp(ctx context.Context, force bool, timeout time.Duration) (WarmReport, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rep WarmReport
	defer func() {
		rep.Took = time.Since(start)
		if r.m != nil {
			r.m.warmupSeconds.Set(rep.Took.Seconds())
			r.m.warmupMissing.Set(float64(rep.Failed + rep.Skipped))
		}
		r.log.Info("warm-up finished", "force", force, "boards", rep.Boards, "cached", rep.Cached, "rebuilt", rep.Rebuilt,
			"failed", rep.Failed, "skipped", rep.Skipped, "took", rep.Took.String())
	}()
	windows, since := hotWindows(r.cfg.Now())
	boards, err := r.wh.ActiveBoards(ctx, since)
	if err != nil {
		return rep, unavailable("clickhouse", err)
	}
	rep.Boards = len(boards)
	count := func(result string) {
		if r.m != nil {
			r.m.warmups.WithLabelValues(result).Inc()
		}
	}
	for _, w := range windows {
		for _, board := range boards {
			if ctx.Err() != nil {
				rep.Skipped++
				count("skipped")
				continue
			}
			if !force {
				if _, err := r.hot.Count(ctx, board, w); err == nil || !errors.Is(err, leaderboard.ErrNotCached) {
					// cached (or Valkey down: nothing to do now)
					rep.Cached++
					count("cached")
					continue
				}
			}
			if _, err := r.rebuild(ctx, board, w, "warmup"); err != nil {
				rep.Failed++
				count("failed")
				continue
			}
			rep.Rebuilt++
			count("rebuilt")
		}
	}
	return rep, nil
}

// Warmer rebuilds, in the background and one at a time, the windows reads
// found not cached (GET rankings or player context answered from
// ClickHouse). Requests are deduplicated; a window whose rebuild failed is
// not tried again for a while; when the queue is full a request is dropped
// (the next read asks again).
type Warmer struct {
	r       *Rebuilder
	queue   chan request
	mu      sync.Mutex
	pending map[key]bool
	failed  map[key]time.Time
	backoff time.Duration
}

// maxFailed bounds the windows remembered as failed.
const maxFailed = 10000

type key struct {
	board string
	w     string
}

type request struct {
	board string
	w     leaderboard.Window
}

// NewWarmer returns a Warmer; Run processes its requests.
func NewWarmer(r *Rebuilder) *Warmer {
	return &Warmer{r: r, queue: make(chan request, 64), pending: map[key]bool{}, failed: map[key]time.Time{}, backoff: time.Minute}
}

// Request asks for a window to be warmed; it never blocks.
func (wm *Warmer) Request(board string, w leaderboard.Window) {
	if !w.IsHot(wm.r.cfg.Now()) || !leaderboard.ValidBoardID(board) {
		return
	}
	k := key{board, w.Key()}
	wm.mu.Lock()
	defer wm.mu.Unlock()
	if wm.pending[k] || time.Since(wm.failed[k]) < wm.backoff {
		return
	}
	select {
	case wm.queue <- request{board, w}:
		wm.pending[k] = true
	default:
	}
}

// Run processes requests until ctx ends.
func (wm *Warmer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-wm.queue:
			k := key{req.board, req.w.Key()}
			_, err := wm.r.rebuild(ctx, req.board, req.w, "read")
			wm.mu.Lock()
			delete(wm.pending, k)
			if err != nil {
				if len(wm.failed) >= maxFailed {
					clear(wm.failed) // bounded memory; at worst a window is tried again early
				}
				wm.failed[k] = time.Now()
			} else {
				delete(wm.failed, k)
			}
			wm.mu.Unlock()
		}
	}
}

package recovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/warehouse"
)

// Warehouse is what recovery reads from ClickHouse (*warehouse.Store).
type Warehouse interface {
	BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error)
	BoardHasEvents(ctx context.Context, board string) (bool, error)
	StandingsAt(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, at, since map[int32]int64, fn func(leaderboard.Standing) error) error
	Marks(ctx context.Context, board string, from time.Time, at map[int32]int64, fn func(warehouse.Mark) error) error
	ActiveBoards(ctx context.Context, since time.Time) ([]string, error)
	LatestOccurredAt(ctx context.Context, board string, at map[int32]int64) (time.Time, error)
}

// Hot is what recovery needs of the hot store (*hotboard.Store).
type Hot interface {
	NewBuild(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation) (*hotboard.Build, error)
	SeedMarks(ctx context.Context, board string, marks []hotboard.Mark, now time.Time) error
	Status(ctx context.Context, board string) (hotboard.BoardStatus, error)
	ClearNeedsRebuild(ctx context.Context, board string, gen int64) error
	Snapshot(ctx context.Context, board string, w leaderboard.Window) (*hotboard.Snapshot, error)
	Count(ctx context.Context, board string, w leaderboard.Window) (int64, error)
	CreateMissing() bool
	DedupHorizon() time.Duration
}

// Exclusive runs a step while the service's consumer applies nothing
// (*ingest.Consumer).
type Exclusive interface {
	Exclusive(ctx context.Context, fn func(context.Context) error) error
}

// Offsets returns, per partition of the score-event topic, the next offset
// a consumer group will consume (its committed offsets).
type Offsets func(ctx context.Context) (map[int32]int64, error)

// Config configures a Rebuilder.
type Config struct {
	// ServiceOffsets are the service consumer group's committed offsets:
	// every record below them is applied to the hot store.
	ServiceOffsets Offsets
	// ClickHouseOffsets are ClickHouse's Kafka engine group's committed
	// offsets: every record below them is stored.
	ClickHouseOffsets Offsets
	// CatchUpTimeout bounds the wait for ClickHouse to reach the service's
	// positions (default 30s).
	CatchUpTimeout time.Duration
	// MaxClockSkew is how far past its record timestamp an event's
	// occurred_at may be (contract section 1).
	MaxClockSkew time.Duration
	// Attempts bounds the tries of one rebuild (default 3).
	Attempts int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Rebuilder rebuilds hot windows from ClickHouse.
//
// A rebuild is exact at aligned positions and runs in two phases, so the
// consumer keeps applying records during the long part:
//
//  1. P0 = the service group's committed offsets. Wait until ClickHouse has
//     consumed up to P0, then write the window's standings computed from
//     the board's records below P0 into a build (temporary keys), and, when
//     Valkey lost the board's identity marks, seed them from ClickHouse.
//  2. Between two consumer batches (Exclusive): P1 = the committed offsets
//     again (everything applied is committed, nothing is being applied).
//     Wait until ClickHouse has consumed up to P1, replace in the build the
//     standings of the players with accepted records in [P0, P1), and swap
//     it in with watermarks P1. The swap refuses if the hot store applied a
//     record of the board at or above P1 (another replica's consumer): the
//     rebuild is then tried again.
//
// After the swap the window holds exactly ClickHouse's answer for the
// board's records below P1, and the consumer applies every record from P1
// on (the board's watermarks are raised to P1), so nothing is lost or
// counted twice.
type Rebuilder struct {
	wh   Warehouse
	hot  Hot
	excl Exclusive
	cfg  Config
	log  *slog.Logger
	m    *Metrics

	mu    sync.Mutex
	locks map[string]chan struct{}
}

// NewRebuilder returns a Rebuilder.
func NewRebuilder(wh Warehouse, hot Hot, excl Exclusive, cfg Config, log *slog.Logger, m *Metrics) *Rebuilder {
	if cfg.CatchUpTimeout <= 0 {
		cfg.CatchUpTimeout = 30 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Rebuilder{wh: wh, hot: hot, excl: excl, cfg: cfg, log: log, m: m, locks: map[string]chan struct{}{}}
}

// lock serializes rebuilds of one board.
func (r *Rebuilder) lock(ctx context.Context, board string) (func(), error) {
	r.mu.Lock()
	ch, ok := r.locks[board]
	if !ok {
		ch = make(chan struct{}, 1)
		r.locks[board] = ch
	}
	r.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Rebuild rebuilds one hot window (daily, weekly or all-time, still within
// its hot retention) of a board from ClickHouse; see Rebuilder. trigger
// labels the metrics ("admin", "warmup", "read", "reconcile").
func (r *Rebuilder) Rebuild(ctx context.Context, board string, w leaderboard.Window) (Result, error) {
	return r.rebuild(ctx, board, w, "admin")
}

func (r *Rebuilder) rebuild(ctx context.Context, board string, w leaderboard.Window, trigger string) (res Result, err error) {
	start := time.Now()
	defer func() {
		res.Took = time.Since(start)
		r.m.observeRebuild(trigger, err, res.Took)
		if err != nil {
			r.log.Warn("rebuild failed", "board", board, "window", w.Key(), "trigger", trigger, "err", err)
		} else {
			r.log.Info("rebuilt hot window from clickhouse", "board", board, "window", w.Key(), "trigger", trigger,
				"players", res.Players, "changed_during_rebuild", res.Changed, "seeded_marks", res.SeededMarks,
				"positions", res.Positions, "attempts", res.Attempts, "took", res.Took.String(), "consumer_paused", res.Paused.String())
		}
	}()
	res = Result{Board: board, Window: w}
	if !leaderboard.ValidBoardID(board) {
		return res, fmt.Errorf("%w: leaderboard id %q", leaderboard.ErrInvalidArgument, board)
	}
	switch w.Type {
	case leaderboard.Daily, leaderboard.Weekly, leaderboard.AllTime:
	default:
		return res, fmt.Errorf("%w: window: %s windows are never kept in Valkey", leaderboard.ErrInvalidArgument, w.Type)
	}
	if !w.IsHot(r.cfg.Now()) {
		return res, fmt.Errorf("%w: window %s is past its hot retention (it is answered from ClickHouse)", leaderboard.ErrInvalidArgument, w.Key())
	}
	unlock, err := r.lock(ctx, board)
	if err != nil {
		return res, err
	}
	defer unlock()

	agg, defined, err := r.wh.BoardAggregation(ctx, board)
	if err != nil {
		return res, unavailable("clickhouse", err)
	}
	if !defined {
		// no hot board for a typo
		has, err := r.wh.BoardHasEvents(ctx, board)
		if err != nil {
			return res, unavailable("clickhouse", err)
		}
		if !has {
			return res, fmt.Errorf("%w: leaderboard %s has no definition and no events", leaderboard.ErrNotFound, board)
		}
	}
	st, err := r.hot.Status(ctx, board)
	if err != nil {
		return res, unavailable("valkey", err)
	}
	// Marks are seeded when Valkey may have lost them: creation is off (no
	// proof of a continuous feed) and no earlier rebuild seeded them.
	seed := !r.hot.CreateMissing() && st.CompleteFrom.IsZero()

	for res.Attempts = 1; ; res.Attempts++ {
		err = r.try(ctx, board, w, agg, seed, &res)
		var mm *hotboard.WatermarkMismatchError
		if !errors.As(err, &mm) || res.Attempts >= r.cfg.Attempts {
			break
		}
		r.log.Info("rebuild: the hot store moved past the snapshot (another consumer); trying again", "board", board, "window", w.Key(), "hot", mm.Hot)
	}
	if err != nil {
		return res, err
	}
	if st.NeedsRebuild {
		// The board holds events the hot store could not apply exactly
		// (older than the dedup horizon), and none of its windows is
		// served until a rebuild covered them. Such events only ever
		// belong to windows that are no longer hot, except all-time: its
		// rebuild covers every event flagged up to the generation read
		// before.
		if w.Type != leaderboard.AllTime {
			var all Result
			if err := r.try(ctx, board, leaderboard.AllTimeWindow(), agg, false, &all); err != nil {
				return res, err
			}
		}
		if err := r.hot.ClearNeedsRebuild(ctx, board, st.RebuildGen); err != nil {
			return res, unavailable("valkey", err)
		}
	}
	return res, nil
}

// try is one attempt of the two phases.
func (r *Rebuilder) try(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, seed bool, res *Result) error {
	p0, err := r.caughtUp(ctx)
	if err != nil {
		return err
	}
	b, err := r.hot.NewBuild(ctx, board, w, agg)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			b.Abort(ctx)
		}
	}()
	if _, err := r.put(ctx, b, board, w, agg, p0, nil); err != nil {
		return err
	}
	res.SeededMarks = 0
	if seed {
		if res.SeededMarks, err = r.seed(ctx, board, p0); err != nil {
			return err
		}
	}
	// The last step: short, bounded, while the consumer waits.
	xctx, cancel := context.WithTimeout(ctx, r.cfg.CatchUpTimeout+30*time.Second)
	defer cancel()
	return r.excl.Exclusive(xctx, func(ctx context.Context) error {
		held := time.Now()
		defer func() { res.Paused = time.Since(held) }()
		p1, err := r.caughtUp(ctx)
		if err != nil {
			return err
		}
		changed, err := r.put(ctx, b, board, w, agg, p1, p0)
		if err != nil {
			return err
		}
		var opts hotboard.CommitOptions
		if seed {
			// Windows starting after complete_from hold only records the
			// consumer applies from P1 on: it must be later than every
			// occurred_at below P1. Now plus the allowed skew bounds them
			// for producers whose clocks are right; the board's latest
			// occurred_at covers a record timestamp set in the future.
			cfrom := r.cfg.Now().Add(r.cfg.MaxClockSkew)
			latest, err := r.wh.LatestOccurredAt(ctx, board, p1)
			if err != nil {
				return unavailable("clickhouse", err)
			}
			if !latest.Before(cfrom) {
				cfrom = latest.Add(time.Millisecond)
			}
			opts.CompleteFrom = cfrom
		}
		committed = true
		if err := b.Commit(ctx, p1, opts); err != nil {
			if errors.Is(err, leaderboard.ErrUnavailable) {
				return unavailable("valkey", err)
			}
			return err
		}
		res.Players, res.Changed, res.Positions = b.Players(), changed, p1
		return nil
	})
}

// caughtUp reads the service group's positions and waits, bounded, until
// ClickHouse has consumed up to them: the positions both stores agree on.
func (r *Rebuilder) caughtUp(ctx context.Context) (map[int32]int64, error) {
	at, err := r.cfg.ServiceOffsets(ctx)
	if err != nil {
		return nil, unavailable("kafka", err)
	}
	return at, waitFor(ctx, r.cfg.ClickHouseOffsets, at, r.cfg.CatchUpTimeout)
}

// waitFor waits until offsets reach at on every partition.
func waitFor(ctx context.Context, offsets Offsets, at map[int32]int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for delay := 20 * time.Millisecond; ; delay = min(delay*2, 500*time.Millisecond) {
		got, err := offsets(ctx)
		behind := ""
		if err == nil {
			for p, o := range at {
				if got[p] < o {
					behind = fmt.Sprintf("partition %d at %d, needs %d", p, got[p], o)
					break
				}
			}
			if behind == "" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			if err != nil {
				return unavailable("clickhouse", err)
			}
			return fmt.Errorf("%w: clickhouse has not consumed up to the service's positions within %s (%s)", leaderboard.ErrUnavailable, timeout, behind)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// putChunk is how many standings (or marks) one write to Valkey carries.
const putChunk = 2000

// inChunks streams items from read into write, putChunk at a time, and
// returns how many there were.
func inChunks[T any](read func(func(T) error) error, write func([]T) error) (int64, error) {
	var (
		n     int64
		chunk = make([]T, 0, putChunk)
	)
	err := read(func(v T) error {
		n++
		chunk = append(chunk, v)
		if len(chunk) < putChunk {
			return nil
		}
		err := write(chunk)
		chunk = chunk[:0]
		return err
	})
	if err == nil && len(chunk) > 0 {
		err = write(chunk)
	}
	if err != nil {
		return n, unavailable("store", err)
	}
	return n, nil
}

// put streams the window's standings at `at` (only the players with records
// in [since, at) when since is set) into the build; it returns how many.
func (r *Rebuilder) put(ctx context.Context, b *hotboard.Build, board string, w leaderboard.Window, agg leaderboard.Aggregation, at, since map[int32]int64) (int64, error) {
	return inChunks(func(fn func(leaderboard.Standing) error) error {
		return r.wh.StandingsAt(ctx, board, w, agg, at, since, fn)
	}, func(chunk []leaderboard.Standing) error { return b.Put(ctx, chunk) })
}

// seed writes the identity marks of the board's accepted events below at
// that are still within the dedup horizon.
func (r *Rebuilder) seed(ctx context.Context, board string, at map[int32]int64) (int64, error) {
	now := r.cfg.Now()
	// a mark lives until the end of its day plus the horizon
	from := leaderboard.DailyWindow(now.Add(-r.hot.DedupHorizon())).Start.AddDate(0, 0, -1)
	return inChunks(func(fn func(hotboard.Mark) error) error {
		return r.wh.Marks(ctx, board, from, at, func(m warehouse.Mark) error {
			return fn(hotboard.Mark{EventID: m.EventID, PlayerID: m.PlayerID, OccurredAt: m.OccurredAt, Fingerprint: m.Fingerprint})
		})
	}, func(chunk []hotboard.Mark) error { return r.hot.SeedMarks(ctx, board, chunk, now) })
}

// unavailable marks a store failure that is not already a domain error as
// leaderboard.ErrUnavailable.
func unavailable(store string, err error) error {
	for _, s := range []error{leaderboard.ErrUnavailable, leaderboard.ErrInvalidArgument, leaderboard.ErrConflict,
		leaderboard.ErrNotFound, leaderboard.ErrNotCached, leaderboard.ErrTotalOutOfRange, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return err
		}
	}
	return fmt.Errorf("%w: %s: %w", leaderboard.ErrUnavailable, store, err)
}

//go:build chdb

package recovery_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/recovery"
	"example.com/leaderboard/internal/stacktest"
)

// exclusive runs steps between the stack's consumer batches (directly when
// the consumer is stopped).
type exclusive struct{ s *stacktest.Stack }

func (x exclusive) Exclusive(ctx context.Context, fn func(context.Context) error) error {
	if c := x.s.Consumer(); c != nil {
		return c.Exclusive(ctx, fn)
	}
	return fn(ctx)
}

func newRebuilder(t *testing.T, s *stacktest.Stack) (*recovery.Rebuilder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := recovery.NewRebuilder(s.Store, s.Hot, exclusive{s}, recovery.Config{
		ServiceOffsets:    s.ServiceOffsets,
		ClickHouseOffsets: s.ClickHouseOffsets,
		CatchUpTimeout:    30 * time.Second,
		MaxClockSkew:      5 * time.Minute,
	}, log, recovery.NewMetrics(reg))
	return r, reg
}

// events is what the test produced, to compute the expected rankings
// independently of both stores: per identity, the first copy produced
// (one producer, one key per board and player, so the lowest offset).
type events struct {
	mu    sync.Mutex
	first map[string]leaderboard.Event
	all   []leaderboard.Event
}

func (e *events) add(ev leaderboard.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.first == nil {
		e.first = map[string]leaderboard.Event{}
	}
	e.all = append(e.all, ev)
	if _, ok := e.first[ev.Identity()]; !ok {
		e.first[ev.Identity()] = ev
	}
}

// expect is the contract's ranking of a sum board's window.
func (e *events) expect(board string, w leaderboard.Window) []leaderboard.Entry {
	e.mu.Lock()
	defer e.mu.Unlock()
	var evs []leaderboard.Event
	for _, ev := range e.first {
		if ev.BoardID == board && w.Contains(ev.OccurredAt) {
			evs = append(evs, ev)
		}
	}
	return leaderboard.Rank(leaderboard.Sum.Standings(evs))
}

func record(ev leaderboard.Event) *kgo.Record {
	v, err := ev.RecordValue()
	if err != nil {
		panic(err)
	}
	return &kgo.Record{Key: []byte(ev.Key()), Value: v}
}

// produce sends n events of boards, players p0..p19, with occurred_at in
// the last hours of today; every 7th event repeats an earlier event
// exactly, every 11th repeats an identity with another score.
func produce(s *stacktest.Stack, got *events, rng *rand.Rand, boards []string, n, seq int) int {
	return produceSince(s, got, rng, boards, n, seq, leaderboard.DailyWindow(time.Now().UTC()).Start)
}

// produceSince is produce with occurred_at between from and now.
func produceSince(s *stacktest.Stack, got *events, rng *rand.Rand, boards []string, n, seq int, from time.Time) int {
	now := time.Now().UTC()
	recs := make([]*kgo.Record, 0, n)
	for range n {
		seq++
		var ev leaderboard.Event
		switch {
		case seq%7 == 0 && len(got.all) > 0:
			got.mu.Lock()
			ev = got.all[rng.IntN(len(got.all))]
			got.mu.Unlock()
		case seq%11 == 0 && len(got.all) > 0:
			got.mu.Lock()
			ev = got.all[rng.IntN(len(got.all))]
			got.mu.Unlock()
			ev.Score += 1000
		default:
			occ := now.Add(-time.Duration(rng.IntN(int(now.Sub(from)/time.Millisecond)+1)) * time.Millisecond).Truncate(time.Millisecond)
			ev = leaderboard.Event{
				EventID: fmt.Sprintf("e%d", seq), BoardID: boards[rng.IntN(len(boards))],
				PlayerID: fmt.Sprintf("p%d", rng.IntN(20)), Score: int64(rng.IntN(200) - 50), OccurredAt: occ,
			}
		}
		got.add(ev)
		recs = append(recs, record(ev))
	}
	s.Produce(recs...)
	return seq
}

// hotAll reads a whole hot window.
func hotAll(t *testing.T, s *stacktest.Stack, board string, w leaderboard.Window) []leaderboard.Entry {
	t.Helper()
	p, err := s.Hot.RangePage(context.Background(), board, w, 0, hotboard.MaxPage)
	require.NoError(t, err, "%s %s", board, w.Key())
	return p.Entries
}

func chAll(t *testing.T, s *stacktest.Stack, board string, w leaderboard.Window) []leaderboard.Entry {
	t.Helper()
	st, err := s.Store.Standings(context.Background(), board, w, leaderboard.Sum)
	require.NoError(t, err)
	return leaderboard.Rank(st)
}

// requireAgree checks every hot window of the boards: Valkey equals
// ClickHouse equals the independent expectation (never empty for the
// current windows).
func requireAgree(t *testing.T, s *stacktest.Stack, got *events, boards []string) {
	t.Helper()
	for _, board := range boards {
		for i, w := range leaderboard.HotWindows(time.Now().UTC()) {
			want := got.expect(board, w)
			if i < 3 {
				require.NotEmpty(t, want, "%s %s", board, w.Key())
			}
			if len(want) == 0 { // nil and empty alike
				require.Empty(t, chAll(t, s, board, w), "clickhouse %s %s", board, w.Key())
				require.Empty(t, hotAll(t, s, board, w), "valkey %s %s", board, w.Key())
				continue
			}
			require.Equal(t, want, chAll(t, s, board, w), "clickhouse %s %s", board, w.Key())
			require.Equal(t, want, hotAll(t, s, board, w), "valkey %s %s", board, w.Key())
		}
	}
}

// Rebuilds of every current window while events (new ones, exact
// duplicates, conflicting copies) keep arriving: the rebuilt boards lose and
// double-count nothing.
func TestRebuildUnderLoad(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, _ := newRebuilder(t, s)
	rng := rand.New(rand.NewPCG(1, 2))
	boards := []string{"rl1", "rl2"}
	got := &events{}
	seq := produce(s, got, rng, boards, 300, 0)
	s.WaitConsumed()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		prng := rand.New(rand.NewPCG(3, 4))
		for {
			select {
			case <-stop:
				return
			default:
			}
			seq = produce(s, got, prng, boards, 20, seq)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var changed int64
	for i := range 6 {
		w := leaderboard.StandardWindows(time.Now().UTC())[i%3]
		res, err := r.Rebuild(context.Background(), boards[i%2], w)
		require.NoError(t, err)
		require.Positive(t, res.Players)
		changed += res.Changed
		t.Logf("rebuild %s/%s: %d players, %d changed during phase 1, took %s, consumer paused %s",
			res.Board, res.Window.Key(), res.Players, res.Changed, res.Took, res.Paused)
	}
	close(stop)
	wg.Wait()
	s.WaitConsumed()
	requireAgree(t, s, got, boards)
	t.Logf("%d events, players changed during rebuilds: %d", len(got.all), changed)
}

// Valkey loses everything while the service consumes: new events (among
// them copies of events consumed before the loss) are applied to no window
// until the warm-up rebuilds them, and copies arriving after the warm-up are
// recognised through the seeded marks.
func TestWarmUpAfterValkeyFlush(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, reg := newRebuilder(t, s)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 6))
	boards := []string{"wf1", "wf2"}
	got := &events{}
	// occurred_at since the start of last week: earlier days and weeks
	// have events too
	lastWeek := leaderboard.WeeklyWindow(time.Now().UTC()).Start.AddDate(0, 0, -7)
	seq := produceSince(s, got, rng, boards, 400, 0, lastWeek)
	seq = produce(s, got, rng, boards, 100, seq)
	s.WaitConsumed()
	requireAgree(t, s, got, boards)
	yesterday := leaderboard.HotWindows(time.Now().UTC())[3]
	require.NotEmpty(t, got.expect("wf1", yesterday))
	// A producer whose clock runs 3 days ahead: valid (occurred_at is
	// checked against the record timestamp), in a window that has not begun.
	future := leaderboard.Event{EventID: "future", BoardID: "wf1", PlayerID: "p1", Score: 7,
		OccurredAt: time.Now().UTC().Add(72 * time.Hour).Truncate(time.Millisecond)}
	got.add(future)
	fr := record(future)
	fr.Timestamp = future.OccurredAt
	s.Produce(fr)
	s.WaitConsumed()
	futureDay := leaderboard.DailyWindow(future.OccurredAt)
	require.Len(t, hotAll(t, s, "wf1", futureDay), 1, "applied before the loss")

	c := s.Valkey.Client(t)
	require.NoError(t, c.Do(ctx, c.B().Flushall().Build()).Error())
	// what the service's feed gate does when it notices the loss
	s.Hot.SetCreateMissing(false)
	seq = produce(s, got, rng, boards, 200, seq)
	s.WaitConsumed()
	for _, w := range leaderboard.HotWindows(time.Now().UTC()) {
		_, err := s.Hot.Count(ctx, "wf1", w)
		require.ErrorIs(t, err, leaderboard.ErrNotCached, "no partial board is created after the loss")
	}

	// every hot window of both boards, earlier days and weeks included
	windows := 2 * len(leaderboard.HotWindows(time.Now().UTC()))
	rep, err := r.WarmUp(ctx, true, time.Minute)
	require.NoError(t, err)
	require.Equal(t, 2, rep.Boards)
	require.Equal(t, windows, rep.Rebuilt)
	require.Zero(t, rep.Failed)
	st, err := s.Hot.Status(ctx, "wf1")
	require.NoError(t, err)
	require.False(t, st.CompleteFrom.IsZero(), "the rebuild seeded the marks and recorded it")
	require.True(t, st.CompleteFrom.After(future.OccurredAt), "complete_from %s is after every occurred_at below the rebuild", st.CompleteFrom)
	_, err = s.Hot.Count(ctx, "wf1", futureDay)
	require.ErrorIs(t, err, leaderboard.ErrNotCached, "the future day lost its event: not cached, never empty")
	require.Equal(t, got.expect("wf1", futureDay), chAll(t, s, "wf1", futureDay))
	requireAgree(t, s, got, boards)

	// copies of events from before the loss, and new events
	produce(s, got, rng, boards, 300, seq)
	s.WaitConsumed()
	requireAgree(t, s, got, boards)

	rec, err := recovery.NewReconciler(r, 10).Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, windows, rec.Checked)
	require.Zero(t, rec.Differing)
	require.Equal(t, float64(windows), counter(t, reg, "leaderboard_rebuilds_total"))

	t.Run("a second warm-up finds everything cached", func(t *testing.T) {
		rep, err := r.WarmUp(ctx, false, time.Minute)
		require.NoError(t, err)
		require.Equal(t, windows, rep.Cached)
		require.Zero(t, rep.Rebuilt)
	})
}

// The reconciler finds a hot window that differs from ClickHouse at aligned
// offsets and repairs it; a service consumer that lags behind ClickHouse is
// not taken for a difference.
func TestReconcile(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, reg := newRebuilder(t, s)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 8))
	boards := []string{"rc1", "rc2"}
	got := &events{}
	produce(s, got, rng, boards, 300, 0)
	s.WaitConsumed()
	rc := recovery.NewReconciler(r, 5)
	windows := 2 * len(leaderboard.HotWindows(time.Now().UTC()))

	// The earlier days and weeks have no event: the first reconciliation
	// loads them (empty), like a warm-up.
	rep, err := rc.Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, windows, rep.Checked+rep.NotCached)
	require.Equal(t, rep.NotCached, rep.Loaded)
	require.Zero(t, rep.Differing)
	rep, err = rc.Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, windows, rep.Checked)
	require.Zero(t, rep.NotCached)
	require.Zero(t, rep.Differing)

	// corrupt rc1's daily window: one player loses a point
	daily := leaderboard.DailyWindow(time.Now().UTC())
	entries := hotAll(t, s, "rc1", daily)
	wrong := make([]leaderboard.Standing, len(entries))
	for i, e := range entries {
		wrong[i] = e.Standing
	}
	wrong[len(wrong)-1].Score--
	wm, err := s.Hot.Watermarks(ctx, "rc1")
	require.NoError(t, err)
	require.NoError(t, s.Hot.Replace(ctx, "rc1", daily, wrong, wm))

	rep, err = rc.Reconcile(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, rep.Differing)
	require.Equal(t, 1, rep.Repaired)
	require.Zero(t, rep.Unrepaired)
	require.Len(t, rep.Checks, 1)
	c := rep.Checks[0]
	require.Equal(t, "rc1", c.Board)
	require.Equal(t, daily, c.Window)
	require.True(t, c.TopMatch || len(entries) > 5, "only the last entry differs")
	require.False(t, c.BoardMatch)
	require.Equal(t, 1.0, gauge(t, reg, "leaderboard_reconcile_differing_windows"))
	require.Equal(t, 0.0, gauge(t, reg, "leaderboard_reconcile_unrepaired_windows"))
	mis := labelled(t, reg, "leaderboard_reconcile_mismatch")
	require.Len(t, mis, windows, "one series per hot window of each board: %v", mis)
	require.Equal(t, 1.0, mis["rc1/daily"])
	require.Equal(t, 0.0, mis["rc1/daily-1"], "yesterday's check does not overwrite today's")
	require.Equal(t, 0.0, mis["rc2/daily"])
	require.Contains(t, mis, "rc1/weekly-1")
	requireAgree(t, s, got, boards)

	t.Run("lag is not drift", func(t *testing.T) {
		s.StopConsumer()
		produce(s, got, rng, boards, 200, 10000)
		end := s.EndOffsets()
		require.Eventually(t, func() bool {
			ch, err := s.ClickHouseOffsets(ctx)
			if err != nil {
				return false
			}
			for p, o := range end {
				if ch[p] < o {
					return false
				}
			}
			return true
		}, 60*time.Second, 50*time.Millisecond)
		rep, err := rc.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, windows, rep.Checked)
		require.Zero(t, rep.Differing, "%+v", rep.Checks)
		s.StartConsumer(nil)
		s.WaitConsumed()
		requireAgree(t, s, got, boards)
	})

	t.Run("a key lost on its own is repaired", func(t *testing.T) {
		c := s.Valkey.Client(t)
		require.NoError(t, c.Do(ctx, c.B().Del().Key("lb:{rc2}:t:"+daily.Key()).Build()).Error())
		_, err := s.Hot.Count(ctx, "rc2", daily)
		require.ErrorIs(t, err, hotboard.ErrInconsistent)
		rep, err := rc.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Differing)
		require.Equal(t, 1, rep.Repaired, "%+v", rep.Checks)
		require.Len(t, rep.Checks, 1)
		require.True(t, rep.Checks[0].Inconsistent)
		require.Equal(t, 1.0, labelled(t, reg, "leaderboard_reconcile_mismatch")["rc2/daily"])
		requireAgree(t, s, got, boards)
	})

	// After Valkey lost its data the consumer creates no window: the
	// reconciler loads the ones Valkey does not hold.
	t.Run("windows Valkey does not hold are loaded", func(t *testing.T) {
		c := s.Valkey.Client(t)
		require.NoError(t, c.Do(ctx, c.B().Flushall().Build()).Error())
		s.Hot.SetCreateMissing(false) // what the feed gate does on the loss
		produce(s, got, rng, boards, 100, 20000)
		s.WaitConsumed()
		_, err := s.Hot.Count(ctx, "rc2", leaderboard.AllTimeWindow())
		require.ErrorIs(t, err, leaderboard.ErrNotCached)

		rep, err := rc.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, windows, rep.NotCached)
		require.Equal(t, windows, rep.Loaded)
		mis := labelled(t, reg, "leaderboard_reconcile_mismatch")
		require.Len(t, mis, windows, "loaded windows have their series too")
		require.Zero(t, mis["rc1/daily"])
		requireAgree(t, s, got, boards)

		rep, err = rc.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, windows, rep.Checked)
		require.Zero(t, rep.NotCached)
		require.Zero(t, rep.Differing)
	})
}

func TestRebuildRefusesColdWindows(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, _ := newRebuilder(t, s)
	old := leaderboard.DailyWindow(time.Now().UTC().AddDate(0, 0, -10))
	custom, err := leaderboard.CustomWindow(old.Start, old.End)
	require.NoError(t, err)
	for name, w := range map[string]leaderboard.Window{"past its retention": old, "custom": custom} {
		t.Run(name, func(t *testing.T) {
			_, err := r.Rebuild(context.Background(), "b1", w)
			require.ErrorIs(t, err, leaderboard.ErrInvalidArgument)
		})
	}
}

func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// labelled returns a gauge vector's values by "board/window" label.
func labelled(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			out[l["board"]+"/"+l["window"]] = m.GetGauge().GetValue()
		}
	}
	return out
}

// A window a read found not cached is rebuilt in the background.
func TestWarmerOnRead(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	s.Hot.SetCreateMissing(false) // as after a loss: events create no window
	r, _ := newRebuilder(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rng := rand.New(rand.NewPCG(9, 10))
	got := &events{}
	produce(s, got, rng, []string{"wr1"}, 150, 0)
	s.WaitConsumed()
	daily := leaderboard.DailyWindow(time.Now().UTC())
	_, err := s.Hot.Count(ctx, "wr1", daily)
	require.ErrorIs(t, err, leaderboard.ErrNotCached)

	wm := recovery.NewWarmer(r)
	go wm.Run(ctx)
	wm.Request("wr1", leaderboard.DailyWindow(time.Now().UTC().AddDate(0, 0, -10))) // not hot: ignored
	wm.Request("wr1", daily)
	wm.Request("wr1", daily) // deduplicated
	require.Eventually(t, func() bool {
		_, err := s.Hot.Count(ctx, "wr1", daily)
		return err == nil
	}, 30*time.Second, 20*time.Millisecond)
	require.Equal(t, got.expect("wr1", daily), hotAll(t, s, "wr1", daily))
	require.Equal(t, got.expect("wr1", daily), chAll(t, s, "wr1", daily))
	_, err = s.Hot.Count(ctx, "wr1", leaderboard.AllTimeWindow())
	require.ErrorIs(t, err, leaderboard.ErrNotCached, "only the window asked for")
}

// An event older than the dedup horizon flags the board (the hot store
// cannot apply it exactly); rebuilding any of its windows also rebuilds
// all-time, which holds the event, and clears the flag.
func TestRebuildClearsStaleFlag(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, _ := newRebuilder(t, s)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(11, 12))
	got := &events{}
	produce(s, got, rng, []string{"st1"}, 50, 0)
	old := leaderboard.Event{EventID: "old", BoardID: "st1", PlayerID: "p1", Score: 500,
		OccurredAt: time.Now().UTC().AddDate(0, 0, -20).Truncate(time.Millisecond)}
	got.add(old)
	s.Produce(record(old))
	s.WaitConsumed()
	daily := leaderboard.DailyWindow(time.Now().UTC())
	for _, w := range []leaderboard.Window{daily, leaderboard.AllTimeWindow()} {
		_, err := s.Hot.Count(ctx, "st1", w)
		require.ErrorIs(t, err, leaderboard.ErrNotCached, "flagged: %s", w.Key())
	}

	_, err := r.Rebuild(ctx, "st1", daily)
	require.NoError(t, err)
	st, err := s.Hot.Status(ctx, "st1")
	require.NoError(t, err)
	require.False(t, st.NeedsRebuild)
	all := leaderboard.AllTimeWindow()
	require.Equal(t, got.expect("st1", all), hotAll(t, s, "st1", all))
	require.Equal(t, got.expect("st1", daily), hotAll(t, s, "st1", daily))
}

func TestRebuildUnknownBoard(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	r, _ := newRebuilder(t, s)
	_, err := r.Rebuild(context.Background(), "nobody", leaderboard.AllTimeWindow())
	require.ErrorIs(t, err, leaderboard.ErrNotFound)
	ok, err := s.Hot.Exists(context.Background(), "nobody", leaderboard.AllTimeWindow())
	require.NoError(t, err)
	require.False(t, ok, "no hot board for a typo")
}

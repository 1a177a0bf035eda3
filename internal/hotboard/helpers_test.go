package hotboard_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/valkeytest"
)

const partitions = 3

type env struct {
	t       testing.TB
	ctx     context.Context
	srv     *valkeytest.Server
	c       valkey.Client
	s       *hotboard.Store
	now     time.Time
	D       time.Time // yesterday 00:00 UTC
	offsets map[int32]int64
}

func newEnv(t testing.TB, opts hotboard.Options) *env {
	t.Helper()
	srv := valkeytest.Start(t)
	c := srv.Client(t)
	now := time.Now().UTC().Truncate(time.Millisecond)
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	return &env{
		t: t, ctx: context.Background(), srv: srv, c: c,
		s:       hotboard.New(c, opts),
		now:     now,
		D:       leaderboard.DailyWindow(now).Start.AddDate(0, 0, -1),
		offsets: map[int32]int64{},
	}
}

func createAll() hotboard.Options { return hotboard.Options{CreateMissing: true} }

// at returns D plus "HH:MM" or "HH:MM:SS".
func (e *env) at(hhmm string) time.Time {
	parts := strings.Split(hhmm, ":")
	var d time.Duration
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		require.NoError(e.t, err)
		d += time.Duration(n) * []time.Duration{time.Hour, time.Minute, time.Second}[i]
	}
	return e.D.Add(d)
}

func ev(id, board, player string, score int64, at time.Time) leaderboard.Event {
	return leaderboard.Event{EventID: id, BoardID: board, PlayerID: player, Score: score, OccurredAt: at.UTC().Truncate(time.Millisecond)}
}

func partitionOf(ev leaderboard.Event) int32 {
	h := fnv.New32a()
	h.Write([]byte(ev.Key()))
	return int32(h.Sum32() % partitions)
}

// items gives the events the next offsets of their partitions.
func (e *env) items(evs ...leaderboard.Event) []hotboard.Item {
	out := make([]hotboard.Item, len(evs))
	for i, ev := range evs {
		p := partitionOf(ev)
		out[i] = hotboard.Item{Partition: p, Offset: e.offsets[p], Event: ev}
		e.offsets[p]++
	}
	return out
}

// apply produces the events (new offsets) and applies them, one board.
func (e *env) apply(agg leaderboard.Aggregation, evs ...leaderboard.Event) []hotboard.Outcome {
	e.t.Helper()
	out, err := e.s.Apply(e.ctx, evs[0].BoardID, agg, e.items(evs...), e.now)
	require.NoError(e.t, err)
	return out
}

// applyRetry applies items, retrying while Valkey is unavailable (after a
// restart the client's connections reconnect one by one).
func (e *env) applyRetry(board string, items []hotboard.Item) []hotboard.Outcome {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.s.Apply(e.ctx, board, leaderboard.Sum, items, e.now)
		if err == nil {
			return out
		}
		require.ErrorIs(e.t, err, leaderboard.ErrUnavailable)
		require.True(e.t, time.Now().Before(deadline), "still unavailable: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) daily() leaderboard.Window  { return leaderboard.DailyWindow(e.D) }
func (e *env) weekly() leaderboard.Window { return leaderboard.WeeklyWindow(e.D) }
func (e *env) windows() []leaderboard.Window {
	return []leaderboard.Window{e.daily(), e.weekly(), leaderboard.AllTimeWindow()}
}

// all reads a whole window and checks the store's invariants on it.
func (e *env) all(board string, w leaderboard.Window) []leaderboard.Entry {
	e.t.Helper()
	p, err := e.s.RangePage(e.ctx, board, w, 0, hotboard.MaxPage)
	require.NoError(e.t, err)
	require.EqualValues(e.t, len(p.Entries), p.Total)
	e.checkInvariants(board, w)
	return p.Entries
}

// checkInvariants verifies, from the raw keys, that every player has exactly
// one member, equal to reached16+player, with score -total.
func (e *env) checkInvariants(board string, w leaderboard.Window) {
	e.t.Helper()
	base := "lb:{" + board + "}:"
	z, err := e.c.Do(e.ctx, e.c.B().Zrange().Key(base+"z:"+w.Key()).Min("0").Max("-1").Withscores().Build()).AsZScores()
	require.NoError(e.t, err)
	tot, err := e.c.Do(e.ctx, e.c.B().Hgetall().Key(base+"t:"+w.Key()).Build()).AsStrMap()
	require.NoError(e.t, err)
	rch, err := e.c.Do(e.ctx, e.c.B().Hgetall().Key(base+"r:"+w.Key()).Build()).AsStrMap()
	require.NoError(e.t, err)
	require.Len(e.t, tot, len(z))
	require.Len(e.t, rch, len(z))
	for _, m := range z {
		player, _, err := hotboard.DecodeMember(m.Member)
		require.NoError(e.t, err)
		require.Equal(e.t, rch[player]+player, m.Member)
		total, err := strconv.ParseInt(tot[player], 10, 64)
		require.NoError(e.t, err)
		if total >= -leaderboard.MaxExactTotal && total <= leaderboard.MaxExactTotal {
			require.Equal(e.t, float64(-total), m.Score, "score of %s", player)
		}
	}
}

type want struct {
	player string
	score  int64
}

func entriesOf(es []leaderboard.Entry) []want {
	out := make([]want, len(es))
	for i, x := range es {
		out[i] = want{x.PlayerID, x.Score}
	}
	return out
}

func players(es []leaderboard.Entry) []string {
	out := make([]string, len(es))
	for i, x := range es {
		out[i] = x.PlayerID
	}
	return out
}

func checkRanks(t testing.TB, es []leaderboard.Entry, first int64) {
	t.Helper()
	for i, x := range es {
		require.Equal(t, first+int64(i), x.Rank)
	}
}

// keys lists the keys of the server matching pattern, sorted.
func (e *env) keys(pattern string) []string {
	e.t.Helper()
	ks, err := e.c.Do(e.ctx, e.c.B().Keys().Pattern(pattern).Build()).AsStrSlice()
	require.NoError(e.t, err)
	sort.Strings(ks)
	return ks
}

// dump is the whole content of the server, for before/after comparisons.
func (e *env) dump() map[string]string {
	e.t.Helper()
	out := map[string]string{}
	for _, k := range e.keys("*") {
		typ, err := e.c.Do(e.ctx, e.c.B().Type().Key(k).Build()).ToString()
		require.NoError(e.t, err)
		var v any
		switch typ {
		case "zset":
			v, err = e.c.Do(e.ctx, e.c.B().Zrange().Key(k).Min("0").Max("-1").Withscores().Build()).AsZScores()
		case "hash":
			v, err = e.c.Do(e.ctx, e.c.B().Hgetall().Key(k).Build()).AsStrMap()
		case "list":
			v, err = e.c.Do(e.ctx, e.c.B().Lrange().Key(k).Start(0).Stop(-1).Build()).AsStrSlice()
		default:
			v, err = e.c.Do(e.ctx, e.c.B().Get().Key(k).Build()).ToString()
		}
		require.NoError(e.t, err)
		ttl, err := e.c.Do(e.ctx, e.c.B().Pexpiretime().Key(k).Build()).AsInt64()
		require.NoError(e.t, err)
		out[k] = typ + " " + strconv.FormatInt(ttl, 10) + " " + fmtAny(v)
	}
	return out
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case map[string]string:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k+"="+x[k])
		}
		sort.Strings(ks)
		return strings.Join(ks, ",")
	default:
		return strings.Join(strings.Fields(fmt.Sprint(v)), " ")
	}
}

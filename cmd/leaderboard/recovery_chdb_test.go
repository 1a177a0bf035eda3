//go:build chdb

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/valkeytest"
)

// feeder produces score events to an instance's embedded Kafka and keeps
// the expected rankings: per identity, the first copy produced (one
// producer, one key per board and player, so the lowest offset wins).
type feeder struct {
	t     *testing.T
	cl    *kgo.Client
	rng   *rand.Rand
	seq   int
	mu    sync.Mutex
	all   []leaderboard.Event
	first map[string]leaderboard.Event
	sent  int64
}

func newFeeder(t *testing.T, in *instance, seed uint64) *feeder {
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]), kgo.DefaultProduceTopic("leaderboard.score-events"))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &feeder{t: t, cl: cl, rng: rand.New(rand.NewPCG(seed, seed+1)), first: map[string]leaderboard.Event{}}
}

// produce sends n events of the boards: new ones with occurred_at earlier
// today, every 7th an exact copy of an earlier event, every 11th a
// conflicting copy.
func (f *feeder) produce(boards []string, n int) {
	f.t.Helper()
	now := time.Now().UTC()
	today := leaderboard.DailyWindow(now).Start
	recs := make([]*kgo.Record, 0, n)
	f.mu.Lock()
	for range n {
		f.seq++
		var ev leaderboard.Event
		switch {
		case f.seq%7 == 0 && len(f.all) > 0:
			ev = f.all[f.rng.IntN(len(f.all))]
		case f.seq%11 == 0 && len(f.all) > 0:
			ev = f.all[f.rng.IntN(len(f.all))]
			ev.Score++
		default:
			span := int(now.Sub(today)/time.Millisecond) + 1
			ev = leaderboard.Event{
				EventID: fmt.Sprintf("e%d", f.seq), BoardID: boards[f.rng.IntN(len(boards))],
				PlayerID: fmt.Sprintf("p%d", f.rng.IntN(30)), Score: int64(f.rng.IntN(100) - 20),
				OccurredAt: now.Add(-time.Duration(f.rng.IntN(span)) * time.Millisecond).Truncate(time.Millisecond),
			}
		}
		f.all = append(f.all, ev)
		if _, ok := f.first[ev.Identity()]; !ok {
			f.first[ev.Identity()] = ev
		}
		v, err := ev.RecordValue()
		require.NoError(f.t, err)
		recs = append(recs, &kgo.Record{Key: []byte(ev.Key()), Value: v})
	}
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(f.t, f.cl.ProduceSync(ctx, recs...).FirstErr())
	f.mu.Lock()
	f.sent += int64(n)
	f.mu.Unlock()
}

func (f *feeder) expect(board string, w leaderboard.Window) []rankRow {
	f.mu.Lock()
	defer f.mu.Unlock()
	var evs []leaderboard.Event
	for _, ev := range f.first {
		if ev.BoardID == board && w.Contains(ev.OccurredAt) {
			evs = append(evs, ev)
		}
	}
	var out []rankRow
	for _, e := range leaderboard.Rank(leaderboard.Sum.Standings(evs)) {
		out = append(out, rankRow{e.Rank, e.PlayerID, e.Score})
	}
	return out
}

type rankRow struct {
	Rank     int64  `json:"rank"`
	PlayerID string `json:"player_id"`
	Score    int64  `json:"score"`
}

type rankingsBody struct {
	Source  string    `json:"source"`
	Total   int64     `json:"total_players"`
	Entries []rankRow `json:"entries"`
}

// rankings reads a whole window (boards here are smaller than one page).
func (in *instance) rankings(board, window, source string) (int, rankingsBody) {
	in.t.Helper()
	url := in.httpURL + "/leaderboards/" + board + "/rankings?limit=1000&window=" + window
	if source != "" {
		url += "&source=" + source
	}
	var body rankingsBody
	resp, err := http.Get(url)
	require.NoError(in.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK {
		require.NoError(in.t, json.Unmarshal(raw, &body), string(raw))
	}
	return resp.StatusCode, body
}

// requireHotEqualsExpected waits until every current window of the boards
// is served from Valkey, then checks both stores against the expectation.
func requireHotEqualsExpected(t *testing.T, in *instance, f *feeder, boards []string) {
	t.Helper()
	now := time.Now().UTC()
	for _, board := range boards {
		for _, w := range leaderboard.StandardWindows(now) {
			window := string(w.Type)
			want := f.expect(board, w)
			require.NotEmpty(t, want)
			require.Eventually(t, func() bool {
				code, _ := in.rankings(board, window, "cache")
				return code == http.StatusOK
			}, 60*time.Second, 100*time.Millisecond, "%s %s is served from valkey again", board, window)
			for _, source := range []string{"cache", "clickhouse"} {
				code, body := in.rankings(board, window, source)
				require.Equal(t, http.StatusOK, code)
				require.Equal(t, source, body.Source)
				require.Equal(t, want, body.Entries, "%s %s from %s", board, window, source)
			}
		}
	}
}

func (in *instance) metric(name string) string {
	in.t.Helper()
	_, body := in.get("/metrics")
	var lines []string
	for _, l := range strings.Split(body, "\n") {
		if strings.HasPrefix(l, name) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// Valkey is flushed, then restarted empty, while the service ingests:
// automatic reads keep answering (from ClickHouse meanwhile), the service
// notices the loss and rebuilds the current windows of the active boards,
// and in the end both stores hold exactly the expected rankings. Then the
// same after a Valkey restart while the service is down (warm-up at start),
// and the rebuild and reconcile commands against the running service.
func TestValkeyLossDuringIngestion(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	in.start()
	boards := []string{"vf1", "vf2"}
	f := newFeeder(t, in, 11)
	f.produce(boards, 300)
	in.waitConsumed(f.sent)
	requireHotEqualsExpected(t, in, f, boards)

	c := vk.Client(t)
	ctx := context.Background()
	for _, loss := range []struct {
		name string
		do   func()
	}{
		{"flush", func() { require.NoError(t, c.Do(ctx, c.B().Flushall().Build()).Error()) }},
		{"restart without persistence", vk.Restart},
	} {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f.produce(boards, 25)
				time.Sleep(20 * time.Millisecond)
			}
		}()
		time.Sleep(500 * time.Millisecond)
		loss.do()
		// reads keep answering during the loss and the rebuild
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			code, _ := in.rankings("vf1", "daily", "")
			require.Equal(t, http.StatusOK, code, loss.name)
			time.Sleep(50 * time.Millisecond)
		}
		close(stop)
		<-done
		in.waitConsumed(f.sent)
		requireHotEqualsExpected(t, in, f, boards)
	}
	require.Contains(t, in.metric("leaderboard_rebuilds_total"), `trigger="warmup"`)

	t.Run("warm-up at start after valkey lost its data while the service was down", func(t *testing.T) {
		require.Equal(t, 0, in.stop(), in.logs.String())
		vk.Restart()
		in.start()
		f.produce(boards, 100)
		in.waitConsumed(f.sent)
		requireHotEqualsExpected(t, in, f, boards)
	})

	t.Run("a restart with valkey intact after a loss is no new loss", func(t *testing.T) {
		require.Equal(t, 0, in.stop(), in.logs.String())
		in.start()
		f.produce(boards, 50)
		in.waitConsumed(f.sent)
		requireHotEqualsExpected(t, in, f, boards)
		require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), `"msg":"warm-up finished"`) },
			30*time.Second, 50*time.Millisecond)
		logs := in.logs.String()
		require.Contains(t, logs, "kept it since")
		require.NotContains(t, logs, "valkey has lost the hot boards")
		// not forced: only windows the last run's warm-up had not reached
		// yet (it was stopped) are rebuilt
		require.Contains(t, logs, `"force":false`)
		require.Contains(t, logs, `"failed":0`)
	})

	t.Run("rebuild and reconcile commands", func(t *testing.T) {
		code, out, errOut := in.runCmd(binPath, "rebuild", "--board", "vf1", "--window", "alltime")
		require.Equal(t, 0, code, "%s %s", out, errOut)
		require.Contains(t, out, "vf1")
		code, out, errOut = in.runCmd(binPath, "rebuild", "--board", "vf1", "--window", "daily", "--date", "2001-01-01")
		require.Equal(t, 1, code, "%s %s", out, errOut)
		require.Contains(t, errOut, "invalid_argument")
		code, out, errOut = in.runCmd(binPath, "reconcile")
		require.Equal(t, 0, code, "%s %s", out, errOut)
		requireHotEqualsExpected(t, in, f, boards)
	})
	require.Equal(t, 0, in.stop(), in.logs.String())
}

// A read right after Valkey lost its data, before the health probe noticed
// (its interval is an hour here): the read's own check notices, so the cache
// never answers a lost window as empty; the warm-up follows.
func TestReadRightAfterValkeyLoss(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.env["LEADERBOARD_HEALTH_INTERVAL"] = "1h"
	in.migrate()
	in.start()
	boards := []string{"rr1"}
	f := newFeeder(t, in, 21)
	f.produce(boards, 200)
	in.waitConsumed(f.sent)
	requireHotEqualsExpected(t, in, f, boards)

	c := vk.Client(t)
	require.NoError(t, c.Do(context.Background(), c.B().Flushall().Build()).Error())
	for _, w := range leaderboard.StandardWindows(time.Now().UTC()) {
		window := string(w.Type)
		want := f.expect("rr1", w)
		require.NotEmpty(t, want)
		for _, source := range []string{"cache", ""} {
			code, body := in.rankings("rr1", window, source)
			if source == "cache" && code == http.StatusServiceUnavailable {
				continue // not cached (yet): right
			}
			require.Equal(t, http.StatusOK, code, "%s from %q", window, source)
			require.Equal(t, want, body.Entries, "%s from %q (%s)", window, source, body.Source)
		}
	}
	require.Eventually(t, func() bool { return strings.Contains(in.logs.String(), `"force":true`) },
		30*time.Second, 50*time.Millisecond, "the read noticed the loss and the warm-up was forced")
	requireHotEqualsExpected(t, in, f, boards)
}

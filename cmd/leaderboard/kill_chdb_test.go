//go:build chdb

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/loadgen"
	"example.com/leaderboard/internal/valkeytest"
)

// The synthetic traffic of TestSIGKILLUnderLoad: the loadgen subcommand's
// flags, and the same values for regenerating its sequence in the test.
const (
	killTopic      = "leaderboard.score-events"
	killSeed       = 424242
	killRate       = 350 // events per second
	killDuration   = 20 * time.Second
	killBoards     = 3
	killPlayers    = 300
	killZipf       = 1.1
	killDuplicates = 0.05
	killLate       = 0.05
	killOutOfOrder = 0.10
	killInvalid    = 0.02
	killBatch      = 50
)

// TestSIGKILLUnderLoad kills the service (and with it the embedded broker
// and chDB) twice with SIGKILL while `leaderboard loadgen` produces to the
// embedded broker, restarts it on the same data folder and Valkey each time,
// and then proves that nothing was lost and nothing counted twice: for every
// board, in the all-time, daily and weekly windows, the rankings of Valkey and
// of ClickHouse are both exactly the ranking computed independently from the
// generated events (identity = board, player, event_id; lowest offset wins).
func TestSIGKILLUnderLoad(t *testing.T) {
	began := time.Now()
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	in.start()
	kafkaAddr := in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]

	lg := in.startLoadgen("loadgen",
		"-target", "kafka", "-brokers", kafkaAddr, "-topic", killTopic,
		"-seed", strconv.Itoa(killSeed),
		"-rate", strconv.Itoa(killRate), "-duration", killDuration.String(),
		"-boards", strconv.Itoa(killBoards), "-players", strconv.Itoa(killPlayers),
		"-zipf", fmt.Sprint(killZipf),
		"-duplicates", fmt.Sprint(killDuplicates), "-late", fmt.Sprint(killLate),
		"-out-of-order", fmt.Sprint(killOutOfOrder), "-invalid", fmt.Sprint(killInvalid),
		"-batch", strconv.Itoa(killBatch))

	// Logs of the killed processes, for the post-mortem of a failure.
	var killedLogs []string
	t.Cleanup(func() {
		if t.Failed() {
			for i, l := range killedLogs {
				t.Logf("log of the service before kill %d:\n%s", i+1, l)
			}
		}
	})

	// Kill 1: early, once both stores have consumed part of the records
	// (on a fresh start the service's consumer begins some seconds late, so
	// this is during its first catch-up) while the producer goes on.
	killedLogs = append(killedLogs, in.killWhen(lg, "kill 1", func(h healthBody) bool {
		return sumOffsets(h.ConsumedOffsets["service"]) >= 1200 && sumOffsets(h.ConsumedOffsets["clickhouse"]) >= 600
	}))
	restart1 := in.start()
	t.Logf("restart 1: healthy after %s", restart1)
	after1, err := in.health()
	require.NoError(t, err)
	ch1 := sumOffsets(after1.ConsumedOffsets["clickhouse"])

	// Kill 2: in steady state in the second half of the load, once both
	// stores have resumed after the first restart.
	killedLogs = append(killedLogs, in.killWhen(lg, "kill 2", func(h healthBody) bool {
		return sumOffsets(h.ConsumedOffsets["service"]) >= killRate*killDuration.Milliseconds()*55/100/1000 &&
			sumOffsets(h.ConsumedOffsets["clickhouse"]) > ch1
	}))
	restart2 := in.start()
	t.Logf("restart 2: healthy after %s", restart2)

	// The load finishes against the restarted service.
	select {
	case <-lg.done:
	case <-time.After(killDuration + 40*time.Second):
		t.Fatalf("loadgen did not finish: %s", lg.out.String())
	}
	require.NoError(t, lg.err, "loadgen: %s", lg.out.String())
	stats := parseLoadgenDone(t, lg.out.String())
	t.Logf("loadgen: %+v", stats)
	require.Zero(t, stats.Errors, "every record the loadgen sent was acknowledged: %s", lg.out.String())
	require.Equal(t, stats.Sent, stats.Accepted)
	require.Greater(t, stats.Duplicates, int64(0))
	require.Greater(t, stats.Invalid, int64(0))

	// The broker's log holds what was sent. A produce request that the
	// broker wrote just before a kill but never answered is sent again by
	// the producer, and the restarted embedded broker has lost the
	// idempotence state that would have dropped it: such byte-for-byte
	// copies are allowed (they are duplicates by identity).
	topic := readTopic(t, kafkaAddr, killTopic)
	require.GreaterOrEqual(t, len(topic), int(stats.Sent), "records in the topic")
	if extra := len(topic) - int(stats.Sent); extra > 0 {
		t.Logf("the topic holds %d records more than were sent (producer retries across a kill)", extra)
	}
	in.waitConsumed(int64(len(topic)))
	t.Logf("both stores consumed %d records (%d partitions) %s after the start",
		len(topic), len(endOffsets(t, kafkaAddr, killTopic)), time.Since(began))

	exp := expectedFromTopic(t, topic, regenerate(t, stats), int(stats.Sent))

	// Every invalid record reached the dead-letter topic (copies are
	// allowed: the DLQ is written before the offsets are committed).
	dlq := map[string]int{}
	for _, r := range readTopic(t, kafkaAddr, killTopic+".dlq") {
		dlq[r.header["source-partition"]+"/"+r.header["source-offset"]]++
	}
	dlqCopies := 0
	for src, n := range dlq {
		assert.True(t, exp.invalid[src], "DLQ record of %s: an invalid record", src)
		dlqCopies += n - 1
	}
	for src := range exp.invalid {
		assert.Contains(t, dlq, src, "invalid record %s is in the DLQ", src)
	}
	t.Logf("DLQ: %d invalid records, %d extra copies", len(dlq), dlqCopies)

	today := time.Now().UTC()
	windows := []string{"window=alltime", "window=weekly&date=" + today.Format("2006-01-02")}
	for _, d := range exp.days {
		windows = append(windows, "window=daily&date="+d)
	}
	checked := 0
	for b := 1; b <= killBoards; b++ {
		board := fmt.Sprintf("board-%03d", b)
		for _, w := range windows {
			want := exp.ranking(board, w)
			require.NotEmpty(t, want, "%s %s: the expectation has players", board, w)
			got := map[string][]killEntry{}
			for _, source := range []string{"cache", "clickhouse"} {
				var body struct {
					Source     string      `json:"source"`
					Total      int         `json:"total_players"`
					Entries    []killEntry `json:"entries"`
					NextCursor *string     `json:"next_cursor"`
				}
				in.getJSON("/leaderboards/"+board+"/rankings?"+w+"&limit=1000&source="+source, &body)
				require.Equal(t, source, body.Source, "%s %s", board, w)
				require.Nil(t, body.NextCursor, "%s %s %s: one page", board, w, source)
				assert.Equal(t, len(want), body.Total, "%s %s %s: total_players", board, w, source)
				got[source] = body.Entries
			}
			assert.Equal(t, got["clickhouse"], got["cache"], "%s %s: Valkey and ClickHouse agree", board, w)
			assert.Equal(t, want, got["clickhouse"], "%s %s: ClickHouse is the independent expectation", board, w)
			assert.Equal(t, want, got["cache"], "%s %s: Valkey is the independent expectation", board, w)
			checked++
		}
	}
	// What the last process saw (its counters start at its start).
	_, metrics := in.get("/metrics")
	for _, line := range strings.Split(metrics, "\n") {
		if strings.HasPrefix(line, "leaderboard_records_applied_total") || strings.HasPrefix(line, "leaderboard_dlq_produced_total") {
			t.Log(line)
		}
	}
	t.Logf("%d board windows identical in both stores and to the expectation; %d distinct events; %s in all",
		checked, exp.distinct, time.Since(began))
	require.Equal(t, 0, in.stop(), in.logs.String())
}

// loadgenProc is a `leaderboard loadgen` running in the background.
type loadgenProc struct {
	started time.Time
	cmd     *exec.Cmd
	out     *syncBuffer
	done    chan struct{}
	err     error
}

// startLoadgen runs a subcommand of the binary in the background with the
// instance's environment.
func (in *instance) startLoadgen(args ...string) *loadgenProc {
	in.t.Helper()
	p := &loadgenProc{cmd: exec.Command(binPath, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = in.environ()
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(in.t, p.cmd.Start())
	p.started = time.Now()
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	in.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// killWhen SIGKILLs the service as soon as cond holds for its /health, and
// checks that the load was still running then. It logs how many records
// were in flight (produced, not yet consumed by a store) and returns the
// killed process's log.
func (in *instance) killWhen(lg *loadgenProc, what string, cond func(healthBody) bool) string {
	t := in.t
	t.Helper()
	var h healthBody
	require.Eventually(t, func() bool {
		var err error
		h, err = in.health()
		return err == nil && cond(h)
	}, 30*time.Second, 20*time.Millisecond, "%s: condition never held", what)
	produced := endOffsets(t, in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"], killTopic)
	in.kill()
	select {
	case <-lg.done:
		t.Fatalf("%s: the load was over before the kill: %s", what, lg.out.String())
	default:
	}
	require.Equal(t, -1, in.cmd.ProcessState.ExitCode(), "%s: killed by a signal", what)
	t.Logf("%s: SIGKILL %s after the load started, with %d records produced, service consumed %d, clickhouse consumed %d",
		what, time.Since(lg.started).Round(time.Millisecond), sumOffsets(produced),
		sumOffsets(h.ConsumedOffsets["service"]), sumOffsets(h.ConsumedOffsets["clickhouse"]))
	logs := in.logs.String()
	if dir := os.Getenv("LEADERBOARD_TEST_LOGDIR"); dir != "" {
		name := fmt.Sprintf("%s.%s.log", filepath.Base(t.Name()), strings.ReplaceAll(what, " ", ""))
		_ = os.WriteFile(filepath.Join(dir, name), []byte(logs), 0o644)
	}
	return logs
}

var loadgenDoneRE = regexp.MustCompile(`loadgen done: sent=(\d+) accepted=(\d+) rejected=(\d+) errors=(\d+) duplicates=(\d+) late=(\d+) out_of_order=(\d+) invalid=(\d+)`)

func parseLoadgenDone(t *testing.T, out string) loadgen.StatsSnapshot {
	m := loadgenDoneRE.FindStringSubmatch(out)
	require.NotNil(t, m, "no summary line in the loadgen output: %s", out)
	n := make([]int64, len(m)-1)
	for i := range n {
		var err error
		n[i], err = strconv.ParseInt(m[i+1], 10, 64)
		require.NoError(t, err)
	}
	return loadgen.StatsSnapshot{Sent: n[0], Accepted: n[1], Rejected: n[2], Errors: n[3],
		Duplicates: n[4], Late: n[5], OutOfOrder: n[6], Invalid: n[7]}
}

// regenerate returns the loadgen's records again: the sequence is fixed by
// the seed, and the clock only changes occurred_at and the timestamps, so
// kinds, keys, event ids and scores are those that were sent.
func regenerate(t *testing.T, stats loadgen.StatsSnapshot) []loadgen.Record {
	cfg := loadgen.DefaultConfig()
	cfg.Target, cfg.Brokers, cfg.Topic = loadgen.TargetKafka, []string{"127.0.0.1:1"}, killTopic
	cfg.Rate, cfg.Duration = killRate, killDuration
	cfg.Boards, cfg.Players, cfg.ZipfS = killBoards, killPlayers, killZipf
	cfg.DuplicateFraction, cfg.LateFraction, cfg.OutOfOrderFraction, cfg.InvalidFraction = killDuplicates, killLate, killOutOfOrder, killInvalid
	cfg.BatchSize, cfg.Seed = killBatch, killSeed
	fixed := time.Now()
	cfg.Now = func() time.Time { return fixed }
	gen, err := loadgen.NewGenerator(cfg)
	require.NoError(t, err)
	recs := gen.Batch(int(stats.Sent))
	var dup, inv int64
	for _, r := range recs {
		switch r.Kind {
		case loadgen.KindDuplicate:
			dup++
		case loadgen.KindInvalid:
			inv++
		}
	}
	require.Equal(t, stats.Duplicates, dup, "the regenerated sequence is the one sent")
	require.Equal(t, stats.Invalid, inv, "the regenerated sequence is the one sent")
	return recs
}

type topicRecord struct {
	partition int32
	offset    int64
	key       string
	value     []byte
	header    map[string]string
}

// endOffsets returns the end offset of every partition of topic.
func endOffsets(t testing.TB, addr, topic string) map[string]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	require.NoError(t, err)
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	out := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[strconv.Itoa(int(o.Partition))] = o.Offset })
	return out
}

// readTopic reads every record of topic, up to its current end.
func readTopic(t *testing.T, addr, topic string) []topicRecord {
	t.Helper()
	want := endOffsets(t, addr, topic)
	total := sumOffsets(want)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	require.NoError(t, err)
	defer cl.Close()
	var out []topicRecord
	for int64(len(out)) < total {
		fs := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "read %d of %d records of %s", len(out), total, topic)
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[strconv.Itoa(int(r.Partition))] {
				h := map[string]string{}
				for _, kv := range r.Headers {
					h[kv.Key] = string(kv.Value)
				}
				out = append(out, topicRecord{r.Partition, r.Offset, string(r.Key), r.Value, h})
			}
		})
	}
	return out
}

type killEntry struct {
	Rank      int64  `json:"rank"`
	PlayerID  string `json:"player_id"`
	Score     int64  `json:"score"`
	ReachedAt string `json:"reached_at"`
}

type killEvent struct {
	board, player, id string
	score             int64
	at                time.Time
}

type killExpectation struct {
	events   []killEvent     // the accepted events: one per identity
	days     []string        // the UTC days they occurred on
	invalid  map[string]bool // "partition/offset" of the invalid records
	distinct int
}

type wireEvent struct {
	EventID    string `json:"event_id"`
	BoardID    string `json:"leaderboard_id"`
	PlayerID   string `json:"player_id"`
	Score      int64  `json:"score"`
	OccurredAt string `json:"occurred_at"`
}

// expectedFromTopic derives the accepted events from the records in the
// broker, checked against the regenerated sequence: every valid generated
// event is in the topic with its board, player and score; of the copies of
// an identity the lowest offset is kept (all copies are byte-for-byte
// duplicates here, which is checked too). sent is the number of records the
// loadgen sent; the topic may hold more (see the test).
func expectedFromTopic(t *testing.T, topic []topicRecord, gen []loadgen.Record, sent int) killExpectation {
	// The valid events the loadgen made, by event id.
	valid := map[string]wireEvent{}
	regenTotals := map[string]int64{} // board/player -> all-time total
	genInvalid := 0
	for _, r := range gen {
		if r.Kind == loadgen.KindInvalid {
			genInvalid++
			continue
		}
		var e wireEvent
		require.NoError(t, json.Unmarshal(r.Value, &e))
		require.Equal(t, e.BoardID+":"+e.PlayerID, string(r.Key))
		if prev, ok := valid[e.EventID]; ok {
			require.Equal(t, prev, e, "a regenerated duplicate re-sends its event")
			continue
		}
		valid[e.EventID] = e
		regenTotals[e.BoardID+"/"+e.PlayerID] += e.Score
	}

	sort.Slice(topic, func(i, j int) bool {
		if topic[i].partition != topic[j].partition {
			return topic[i].partition < topic[j].partition
		}
		return topic[i].offset < topic[j].offset
	})
	first := map[string][]byte{} // identity -> value of its lowest offset
	exp := killExpectation{invalid: map[string]bool{}}
	days := map[string]bool{}
	topicTotals := map[string]int64{}
	for _, r := range topic {
		var e wireEvent
		g, ok := wireEvent{}, false
		if json.Unmarshal(r.value, &e) == nil {
			g, ok = valid[e.EventID]
		}
		if !ok || r.key != e.BoardID+":"+e.PlayerID {
			exp.invalid[fmt.Sprintf("%d/%d", r.partition, r.offset)] = true
			continue
		}
		require.Equal(t, g.BoardID, e.BoardID, e.EventID)
		require.Equal(t, g.PlayerID, e.PlayerID, e.EventID)
		require.Equal(t, g.Score, e.Score, e.EventID)
		identity := e.BoardID + "\x00" + e.PlayerID + "\x00" + e.EventID
		if v, seen := first[identity]; seen {
			require.Equal(t, string(v), string(r.value), "copies of %s are duplicates", identity)
			continue
		}
		first[identity] = r.value
		at, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
		require.NoError(t, err)
		at = at.UTC().Truncate(time.Millisecond)
		exp.events = append(exp.events, killEvent{e.BoardID, e.PlayerID, e.EventID, e.Score, at})
		days[at.Format("2006-01-02")] = true
		topicTotals[e.BoardID+"/"+e.PlayerID] += e.Score
	}
	require.Len(t, first, len(valid), "every generated event is in the topic")
	// The invalid records in the topic are the generated ones (and copies of
	// them beyond what was sent).
	require.GreaterOrEqual(t, len(exp.invalid), genInvalid, "invalid records in the topic")
	require.LessOrEqual(t, len(exp.invalid)-genInvalid, len(topic)-sent, "invalid records in the topic")
	require.Equal(t, regenTotals, topicTotals, "all-time totals: the regenerated events and the topic agree")
	for d := range days {
		exp.days = append(exp.days, d)
	}
	sort.Strings(exp.days)
	exp.distinct = len(first)
	return exp
}

// ranking computes the contract's ranking of a sum board in a window given
// as the query string of the rankings request.
func (x killExpectation) ranking(board, query string) []killEntry {
	q, err := url.ParseQuery(query)
	if err != nil {
		panic(err)
	}
	var from, to time.Time
	switch q.Get("window") {
	case "daily":
		from, _ = time.Parse("2006-01-02", q.Get("date"))
		to = from.AddDate(0, 0, 1)
	case "weekly":
		d, _ := time.Parse("2006-01-02", q.Get("date"))
		from = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		to = from.AddDate(0, 0, 7)
	case "alltime":
		from, to = time.Unix(0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		panic(query)
	}
	type agg struct {
		score   int64
		reached time.Time
	}
	players := map[string]*agg{}
	for _, e := range x.events {
		if e.board != board || e.at.Before(from) || !e.at.Before(to) {
			continue
		}
		a := players[e.player]
		if a == nil {
			a = &agg{reached: e.at}
			players[e.player] = a
		}
		a.score += e.score
		if e.at.After(a.reached) {
			a.reached = e.at
		}
	}
	out := make([]killEntry, 0, len(players))
	for p, a := range players {
		out = append(out, killEntry{PlayerID: p, Score: a.score, ReachedAt: a.reached.Format("2006-01-02T15:04:05.000Z")})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		if out[i].ReachedAt != out[j].ReachedAt {
			return out[i].ReachedAt < out[j].ReachedAt
		}
		return out[i].PlayerID < out[j].PlayerID
	})
	for i := range out {
		out[i].Rank = int64(i + 1)
	}
	return out
}

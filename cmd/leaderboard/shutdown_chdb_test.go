//go:build chdb

package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/valkeytest"
)

// Parameters of TestGracefulShutdownUnderLoad.
const (
	gsTopic           = "leaderboard.score-events"
	gsShutdownTimeout = 10 * time.Second       // LEADERBOARD_SHUTDOWN_TIMEOUT of the instance
	gsLoadBeforeSig   = 3 * time.Second        // load before SIGTERM
	gsWriters         = 4                      // goroutines POSTing batches
	gsReaders         = 2                      // goroutines reading rankings and players
	gsBatch           = 20                     // new valid events per POST (plus one copy and one invalid)
	gsSlowPosts       = 3                      // POSTs whose body is still being sent when SIGTERM comes
	gsSlowHold        = 600 * time.Millisecond // how long after SIGTERM the slow bodies are finished
	gsPlayers         = 25
	gsSpread          = 30 * time.Hour // occurred_at in [now - gsSpread, now]: two or three days, one or two weeks
	// A request started this long before SIGTERM has certainly been read by
	// the server (its connection is active, not idle), so it must get a
	// complete answer. Requests started later may race with the closing of
	// the listener and of idle keep-alive connections, and fail at the
	// connection level without the server having seen them.
	gsAcceptedMargin = 250 * time.Millisecond
)

var gsBoards = []string{"gs-a", "gs-b", "gs-c"}

// gsResult is one HTTP request of the load and what came back.
type gsResult struct {
	what    string // "POST /events", "GET rankings", "GET player", "slow POST /events"
	started time.Time
	wrote   time.Time // the request's headers were written (zero: never)
	done    time.Time
	status  int
	body    []byte
	err     error  // transport error, or an error reading the body
	bad     string // the answer was complete but wrong (checked in the goroutine)
}

// gsLoad is the shared state of the load: every event we tried to produce
// and whether it certainly reached the topic.
type gsLoad struct {
	mu             sync.Mutex
	values         map[string][]byte // event_id -> record value, for every valid event sent or attempted
	certain        map[string]bool   // event ids that got a success answer (202, or a Kafka ack)
	certainRecords int               // records that certainly are in the topic (copies included)
	maybeRecords   int               // records that may be in the topic (503, or no answer)
	invalidSent    int
	results        []gsResult
	accepted503    int // POST batches answered 503
	postOK         int // POST batches answered 202
	kafkaOK        int // batches produced directly and acknowledged
	kafkaFailed    int
	kafkaAfterSig  int // of kafkaOK, acknowledged after SIGTERM
}

func (l *gsLoad) add(r gsResult) {
	l.mu.Lock()
	l.results = append(l.results, r)
	l.mu.Unlock()
}

// settle records the outcome of a batch of valid event ids (and records).
func (l *gsLoad) settle(ids []string, records int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		for _, id := range ids {
			l.certain[id] = true
		}
		l.certainRecords += records
	} else {
		l.maybeRecords += records
	}
}

func gsEventValue(id, board, player string, score int64, at time.Time) []byte {
	v, err := json.Marshal(wireEvent{EventID: id, BoardID: board, PlayerID: player, Score: score,
		OccurredAt: at.UTC().Format("2006-01-02T15:04:05.000Z")})
	if err != nil {
		panic(err)
	}
	return v
}

// gsDo sends req and reads the whole answer, noting when the request's
// headers were written.
func gsDo(cl *http.Client, what string, req *http.Request) gsResult {
	r := gsResult{what: what, started: time.Now()}
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{WroteHeaders: func() {
		mu.Lock()
		r.wrote = time.Now()
		mu.Unlock()
	}}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	resp, err := cl.Do(req)
	if err == nil {
		r.status = resp.StatusCode
		r.body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	r.err, r.done = err, time.Now()
	return r
}

// gsCheckError reports what is wrong with an error answer: the contract's
// body {"error": {"code", "message"}} with the expected code.
func gsCheckError(body []byte, code string) string {
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error == nil || e.Error.Message == "" {
		return fmt.Sprintf("not the contract's error body: %q", body)
	}
	if e.Error.Code != code {
		return fmt.Sprintf("error code %q, want %q: %s", e.Error.Code, code, body)
	}
	return ""
}

// gsPostRequest is a POST /events of a JSON array.
func gsPostRequest(url string, body io.Reader) *http.Request {
	req, err := http.NewRequest(http.MethodPost, url+"/events", body)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// gsCheckAccepted checks a 202 answer: every valid event accepted, the one
// invalid event rejected at its index with score_out_of_range.
func gsCheckAccepted(r gsResult, valid, invalidIndex int) string {
	var b struct {
		Accepted *int `json:"accepted"`
		Rejected []struct {
			Index int    `json:"index"`
			Code  string `json:"code"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Accepted == nil {
		return fmt.Sprintf("202 body is not {accepted, rejected}: %q", r.body)
	}
	if *b.Accepted != valid {
		return fmt.Sprintf("accepted %d, want %d: %s", *b.Accepted, valid, r.body)
	}
	switch {
	case invalidIndex < 0 && len(b.Rejected) != 0:
		return fmt.Sprintf("rejected events in a valid batch: %s", r.body)
	case invalidIndex >= 0 && (len(b.Rejected) != 1 || b.Rejected[0].Index != invalidIndex || b.Rejected[0].Code != "score_out_of_range"):
		return fmt.Sprintf("want index %d rejected as score_out_of_range: %s", invalidIndex, r.body)
	}
	return ""
}

// TestGracefulShutdownUnderLoad is the issue's "graceful shutdown under
// load: in-flight requests finish, the consumer commits what it applied,
// nothing lost". While writers POST batches of events, readers read
// rankings and players, and a Kafka client produces directly to the
// embedded broker, the service gets SIGTERM; a few POSTs are deliberately
// in flight then (their bodies are finished only after the signal). It must
// exit 0 within LEADERBOARD_SHUTDOWN_TIMEOUT, every request it accepted
// gets a complete, correct answer, and its log shows the order HTTP drain
// -> consumer -> producer -> stores. Restarted on the same data folder and
// Valkey, both stores consume every record of the topic, the restarted
// consumer finds nothing it had applied without committing (no
// "redelivered" outcome), and every board window answers, from Valkey and
// from ClickHouse, exactly the ranking of the events that got a success
// answer (plus those with an uncertain answer that did reach the topic),
// each counted once.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	began := time.Now()
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.env["LEADERBOARD_SHUTDOWN_TIMEOUT"] = gsShutdownTimeout.String()
	in.migrate()
	in.start()
	kafkaAddr := in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]
	baseURL := in.httpURL
	exited := in.exited // the first process; in.start replaces it
	t.Logf("started in %s", time.Since(began).Round(time.Millisecond))

	load := &gsLoad{values: map[string][]byte{}, certain: map[string]bool{}}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 32
	t.Cleanup(transport.CloseIdleConnections)
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}
	sigSent := make(chan struct{}) // closed just before SIGTERM
	running := func() bool {
		select {
		case <-exited:
			return false
		default:
			return true
		}
	}
	// The UTC clock may pass midnight during the test: occurred_at is never
	// after the start, and the windows checked come from the events.
	now := time.Now().UTC()
	var wg sync.WaitGroup

	// Writers: POST batches until the process is gone. Each batch has
	// gsBatch new events, an exact copy of an event of an earlier accepted
	// batch (a duplicate by identity), and one invalid event.
	for w := range gsWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 77))
			var mine []string // this writer's event ids that were accepted
			for b := 0; running(); b++ {
				var items [][]byte
				var ids []string
				for i := range gsBatch {
					id := fmt.Sprintf("h%d-%d-%d", w, b, i)
					v := gsEventValue(id, gsBoards[rng.IntN(len(gsBoards))], fmt.Sprintf("p%02d", rng.IntN(gsPlayers)),
						int64(rng.IntN(120)-20), now.Add(-time.Duration(rng.Int64N(int64(gsSpread)))))
					items = append(items, v)
					ids = append(ids, id)
				}
				load.mu.Lock()
				for i, id := range ids {
					load.values[id] = items[i]
				}
				if len(mine) > 0 {
					id := mine[rng.IntN(len(mine))]
					items = append(items, load.values[id])
					ids = append(ids, id)
				}
				load.mu.Unlock()
				valid := len(items)
				inv := rng.IntN(len(items) + 1)
				bad := fmt.Sprintf(`{"event_id":"x%d-%d","leaderboard_id":"gs-a","player_id":"p00","score":2000000000000,"occurred_at":"%s"}`,
					w, b, now.Format(time.RFC3339))
				items = append(items[:inv], append([][]byte{[]byte(bad)}, items[inv:]...)...)
				body := append([]byte("["), bytes.Join(items, []byte(","))...)
				body = append(body, ']')

				r := gsDo(client, "POST /events", gsPostRequest(baseURL, bytes.NewReader(body)))
				ok := r.err == nil && r.status == http.StatusAccepted
				if ok {
					r.bad = gsCheckAccepted(r, valid, inv)
					ok = r.bad == ""
				}
				load.settle(ids, valid, ok)
				load.mu.Lock()
				load.invalidSent++
				if ok {
					load.postOK++
					mine = append(mine, ids[:gsBatch]...)
				}
				if r.err == nil && r.status == http.StatusServiceUnavailable {
					load.accepted503++
				}
				load.mu.Unlock()
				load.add(r)
				if r.err != nil {
					time.Sleep(20 * time.Millisecond) // refused: the listener is closed
				} else {
					time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
				}
			}
		}()
	}

	// Readers: rankings (the service picks the store) and players.
	for rd := range gsReaders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(rd), 99))
			windows := []string{"daily", "weekly", "alltime"}
			for running() {
				board := gsBoards[rng.IntN(len(gsBoards))]
				var r gsResult
				if rng.IntN(2) == 0 {
					req, _ := http.NewRequest(http.MethodGet, baseURL+"/leaderboards/"+board+"/rankings?limit=100&window="+windows[rng.IntN(3)], nil)
					r = gsDo(client, "GET rankings", req)
					if r.err == nil && r.status == http.StatusOK {
						var body rankingsBody
						if err := json.Unmarshal(r.body, &body); err != nil || body.Source == "" || int(body.Total) < len(body.Entries) {
							r.bad = fmt.Sprintf("incomplete rankings body: %q", r.body)
						}
					}
				} else {
					req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/leaderboards/%s/players/p%02d?window=alltime&context=3", baseURL, board, rng.IntN(gsPlayers)), nil)
					r = gsDo(client, "GET player", req)
					if r.err == nil && r.status == http.StatusOK {
						var body struct {
							Player *struct {
								Rank int64 `json:"rank"`
							} `json:"player"`
						}
						if err := json.Unmarshal(r.body, &body); err != nil || body.Player == nil || body.Player.Rank < 1 {
							r.bad = fmt.Sprintf("incomplete player body: %q", r.body)
						}
					}
				}
				if r.err == nil && r.status == http.StatusNotFound {
					// a board or player with no event consumed yet
					r.bad = gsCheckError(r.body, "not_found")
				}
				load.add(r)
				if r.err != nil {
					time.Sleep(20 * time.Millisecond)
				} else {
					time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
				}
			}
		}()
	}

	// Direct producer: batches to the embedded broker through SIGTERM and
	// the drain, so the consumer has records in hand when it is stopped,
	// until the service logs that its consumer is closed. The embedded
	// broker is the last thing the service closes, so the batch in flight
	// then is still acknowledged.
	logs := in.logs
	consumerClosed := func() bool {
		return strings.Contains(logs.String(), `"msg":"closed","resource":"kafka consumer"`)
	}
	kcl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr), kgo.DefaultProduceTopic(gsTopic),
		kgo.RecordDeliveryTimeout(5*time.Second))
	require.NoError(t, err)
	wg.Add(1)
	go func() {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(5, 55))
		for n := 0; running() && !consumerClosed(); n++ {
			var recs []*kgo.Record
			var ids []string
			load.mu.Lock()
			for i := range gsBatch {
				id := fmt.Sprintf("k%d-%d", n, i)
				board, player := gsBoards[rng.IntN(len(gsBoards))], fmt.Sprintf("p%02d", rng.IntN(gsPlayers))
				v := gsEventValue(id, board, player, int64(rng.IntN(120)-20), now.Add(-time.Duration(rng.Int64N(int64(gsSpread)))))
				load.values[id] = v
				ids = append(ids, id)
				recs = append(recs, &kgo.Record{Key: []byte(board + ":" + player), Value: v})
			}
			load.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := kcl.ProduceSync(ctx, recs...).FirstErr()
			cancel()
			load.settle(ids, len(recs), err == nil)
			load.mu.Lock()
			if err == nil {
				load.kafkaOK++
				select {
				case <-sigSent:
					load.kafkaAfterSig++
				default:
				}
			} else {
				load.kafkaFailed++
			}
			load.mu.Unlock()
			time.Sleep(30 * time.Millisecond)
		}
	}()

	time.Sleep(gsLoadBeforeSig - 600*time.Millisecond)

	// Slow POSTs: headers and the first half of the array are sent before
	// SIGTERM, the rest only gsSlowHold after it. The server has accepted
	// them (the handler is reading the body) when the signal comes, so the
	// drain must wait for them and they must be answered 202.
	release := make(chan struct{})
	slowIDs := make([][]string, gsSlowPosts)
	slowDone := make(chan gsResult, gsSlowPosts)
	for s := range gsSlowPosts {
		var items [][]byte
		load.mu.Lock()
		for i := range 10 {
			id := fmt.Sprintf("s%d-%d", s, i)
			v := gsEventValue(id, gsBoards[s%len(gsBoards)], fmt.Sprintf("slow%d", s), int64(1000+s*10+i), now.Add(-time.Duration(i)*time.Minute))
			load.values[id] = v
			items = append(items, v)
			slowIDs[s] = append(slowIDs[s], id)
		}
		load.mu.Unlock()
		pr, pw := io.Pipe()
		wg.Add(2)
		go func() {
			defer wg.Done()
			r := gsDo(client, "slow POST /events", gsPostRequest(baseURL, pr))
			ok := r.err == nil && r.status == http.StatusAccepted
			if ok {
				r.bad = gsCheckAccepted(r, len(items), -1)
				ok = r.bad == ""
			}
			load.settle(slowIDs[s], len(items), ok)
			load.add(r)
			slowDone <- r
		}()
		go func() {
			defer wg.Done()
			defer pw.Close()
			if _, err := pw.Write(append(append([]byte("["), bytes.Join(items[:5], []byte(","))...), ',')); err != nil {
				return
			}
			<-release
			_, _ = pw.Write(append(bytes.Join(items[5:], []byte(",")), ']'))
		}()
	}
	time.Sleep(600 * time.Millisecond)

	// SIGTERM while all of this runs.
	close(sigSent)
	sigAt := time.Now()
	var releaseOnce sync.Once
	finishSlow := func() { releaseOnce.Do(func() { close(release) }) }
	time.AfterFunc(gsSlowHold, finishSlow)
	code := in.stop()
	took := time.Since(sigAt)
	finishSlow() // in case the process exited before the slow bodies were finished
	logs1 := in.logs.String()
	if dir := os.Getenv("LEADERBOARD_TEST_LOGDIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, t.Name()+".before-sigterm.log"), []byte(logs1), 0o644)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tail := logs1
			if i := strings.Index(tail, "shutting down"); i > 20000 {
				tail = "...\n" + tail[i-20000:]
			}
			t.Logf("log of the process that got SIGTERM:\n%s", tail)
		}
	})
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(40 * time.Second):
		t.Fatal("the load goroutines did not end after the process exited")
	}
	kcl.Close()

	require.Equal(t, 0, code, "exit code after SIGTERM")
	require.Less(t, took, gsShutdownTimeout, "shutdown finished within LEADERBOARD_SHUTDOWN_TIMEOUT")
	t.Logf("SIGTERM -> exit 0 in %s", took.Round(time.Millisecond))

	// Every request: a complete and correct answer, unless it failed at the
	// connection level because it came too late.
	var answered, inFlight, naturalInFlight, late, answeredAfter int
	byStatus := map[string]int{}
	for _, r := range load.results {
		if r.err != nil {
			if r.started.Before(sigAt.Add(-gsAcceptedMargin)) {
				t.Errorf("%s started %s before SIGTERM got no complete answer (headers written: %v): %v",
					r.what, sigAt.Sub(r.started), !r.wrote.IsZero(), r.err)
			}
			late++
			continue
		}
		answered++
		byStatus[fmt.Sprintf("%s %d", r.what, r.status)]++
		if !r.wrote.IsZero() && r.wrote.Before(sigAt) && r.done.After(sigAt) {
			inFlight++
			if !strings.HasPrefix(r.what, "slow") {
				naturalInFlight++
			}
		}
		if r.done.After(sigAt) {
			answeredAfter++
		}
		switch {
		case r.bad != "":
			t.Errorf("%s answered %d: %s", r.what, r.status, r.bad)
		case r.status >= 500 && r.status != http.StatusServiceUnavailable:
			t.Errorf("%s answered %d: %s", r.what, r.status, r.body)
		case r.status == http.StatusServiceUnavailable:
			// Only while shutting down, and as the contract's body.
			if r.done.Before(sigAt) {
				t.Errorf("%s answered 503 before SIGTERM: %s", r.what, r.body)
			} else if msg := gsCheckError(r.body, "unavailable"); msg != "" {
				t.Errorf("%s answered 503 during shutdown: %s", r.what, msg)
			}
		case r.what == "slow POST /events" && r.status != http.StatusAccepted:
			t.Errorf("a POST in flight at SIGTERM answered %d: %s", r.status, r.body)
		case strings.HasSuffix(r.what, "POST /events") && r.status != http.StatusAccepted:
			t.Errorf("%s answered %d: %s", r.what, r.status, r.body)
		case strings.HasPrefix(r.what, "GET") && r.status != http.StatusOK && r.status != http.StatusNotFound:
			t.Errorf("%s answered %d: %s", r.what, r.status, r.body)
		}
	}
	for range gsSlowPosts {
		r := <-slowDone
		require.NoError(t, r.err, "a POST in flight at SIGTERM gets a complete answer")
		require.Equal(t, http.StatusAccepted, r.status, "a POST in flight at SIGTERM: %s", r.body)
		require.True(t, r.done.After(sigAt.Add(gsSlowHold)), "the slow POST was answered after its body was finished")
	}
	keys := make([]string, 0, len(byStatus))
	for k := range byStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("answers: %s x%d", k, byStatus[k])
	}
	t.Logf("%d requests answered (%d after SIGTERM), %d in flight at SIGTERM (%d of the ordinary load), %d failed at the connection level after the listener closed; "+
		"POST batches: %d accepted, %d answered 503; direct Kafka batches: %d acknowledged (%d after SIGTERM), %d failed",
		answered, answeredAfter, inFlight, naturalInFlight, late, load.postOK, load.accepted503, load.kafkaOK, load.kafkaAfterSig, load.kafkaFailed)
	require.GreaterOrEqual(t, inFlight, gsSlowPosts, "requests in flight when SIGTERM came")
	require.Greater(t, load.postOK, 10, "the load ran")
	require.Greater(t, load.kafkaOK, 5, "the direct producer ran")
	require.False(t, t.Failed(), "HTTP answers during the shutdown")

	// The shutdown was ordered: HTTP drained (the slow POSTs logged after
	// the drain began), then the consumer, the producer, the stores, the
	// embedded broker.
	gsCheckShutdownLog(t, logs1)

	// Restart on the same data folder and Valkey.
	restartAt := time.Now()
	in.start()
	t.Logf("restart: healthy after %s; ClickHouse's consumer group then: %s", time.Since(restartAt).Round(time.Millisecond),
		gsDescribeGroup(kafkaAddr, "leaderboard-clickhouse"))
	topic := readTopic(t, kafkaAddr, gsTopic)
	total := int64(len(topic))
	t.Logf("topic: %d records; %d certainly produced, %d with an uncertain answer", total, load.certainRecords, load.maybeRecords)
	require.GreaterOrEqual(t, total, int64(load.certainRecords), "every record that got a success answer is in the topic")
	require.LessOrEqual(t, total, int64(load.certainRecords+load.maybeRecords), "no record beyond those sent")

	// Both stores consume everything (noted separately: ClickHouse's Kafka
	// engine may need its consumer group to settle after the restart).
	var svcAt, chAt time.Duration
	require.Eventually(t, func() bool {
		h, err := in.health()
		if err != nil {
			return false
		}
		if svcAt == 0 && sumOffsets(h.ConsumedOffsets["service"]) == total {
			svcAt = time.Since(restartAt)
		}
		if chAt == 0 && sumOffsets(h.ConsumedOffsets["clickhouse"]) == total {
			chAt = time.Since(restartAt)
		}
		return svcAt > 0 && chAt > 0
	}, 70*time.Second, 100*time.Millisecond, "both stores consume the %d records of the topic", total)
	in.waitConsumed(total)
	t.Logf("ClickHouse's consumer group once caught up: %s", gsDescribeGroup(kafkaAddr, "leaderboard-clickhouse"))
	t.Logf("after the restart, the service consumed everything in %s, ClickHouse in %s",
		svcAt.Round(time.Millisecond), chAt.Round(time.Millisecond))
	// (A leftover member of ClickHouse's group would stall it for a whole
	// session timeout: the embedded broker evicts such members at start,
	// see internal/broker TestRestartEvictsLeftoverMembers.)

	// The consumer committed what it applied: nothing it had applied comes
	// back to the restarted consumer as a redelivery.
	applied := in.metric("leaderboard_records_consumed_total") + "\n" + in.metric("leaderboard_records_applied_total")
	t.Logf("restarted consumer:\n%s", applied)
	for _, line := range strings.Split(applied, "\n") {
		if strings.Contains(line, `outcome="redelivered"`) {
			f := strings.Fields(line)
			assert.Equal(t, "0", f[len(f)-1], "records applied before the shutdown but not committed: %s", line)
		}
	}

	// What is in the topic: only events we sent, byte for byte, every
	// event with a success answer; events whose answer was uncertain (503,
	// or no answer) may be there or not. A 503 from POST /events means
	// Kafka did not acknowledge every record within the producer's
	// deadline; the idempotent producer may still deliver some of them
	// afterwards (internal/ingest/producer.go: "a record delivered later
	// is harmless", the client retries a 503), so for those events only,
	// either outcome is accepted. The same for a direct batch whose
	// ProduceSync failed.
	present := map[string]bool{}
	sort.Slice(topic, func(i, j int) bool {
		if topic[i].partition != topic[j].partition {
			return topic[i].partition < topic[j].partition
		}
		return topic[i].offset < topic[j].offset
	})
	var exp killExpectation
	days := map[string]bool{}
	weeks := map[string]bool{}
	maybeIn := 0
	for _, r := range topic {
		var e wireEvent
		require.NoError(t, json.Unmarshal(r.value, &e), "%s", r.value)
		want, ok := load.values[e.EventID]
		require.True(t, ok, "record %d/%d is an event we sent: %s", r.partition, r.offset, r.value)
		require.Equal(t, string(want), string(r.value), "record %d/%d", r.partition, r.offset)
		require.Equal(t, e.BoardID+":"+e.PlayerID, r.key)
		if present[e.EventID] {
			continue // a copy: counts once
		}
		present[e.EventID] = true
		if !load.certain[e.EventID] {
			maybeIn++
		}
		at, err := time.Parse(time.RFC3339Nano, e.OccurredAt)
		require.NoError(t, err)
		exp.events = append(exp.events, killEvent{e.BoardID, e.PlayerID, e.EventID, e.Score, at.UTC()})
		days[at.UTC().Format("2006-01-02")] = true
		d := at.UTC()
		weeks[d.AddDate(0, 0, -((int(d.Weekday())+6)%7)).Format("2006-01-02")] = true
	}
	missing := 0
	for id := range load.certain {
		if !present[id] {
			missing++
			if missing <= 10 {
				t.Errorf("event %s got a success answer but is not in the topic", id)
			}
		}
	}
	require.Zero(t, missing, "events with a success answer missing from the topic")
	for _, ids := range slowIDs {
		for _, id := range ids {
			require.True(t, present[id], "event %s of a POST in flight at SIGTERM is in the topic", id)
		}
	}
	t.Logf("%d distinct events in the topic (%d with an uncertain answer); %d invalid events sent (each 202 rejected its one at the right index)",
		len(present), maybeIn, load.invalidSent)

	// Both stores answer exactly the expected ranking of every board window.
	windows := []string{"window=alltime"}
	for _, d := range sortedKeys(weeks) {
		windows = append(windows, "window=weekly&date="+d)
	}
	for _, d := range sortedKeys(days) {
		windows = append(windows, "window=daily&date="+d)
	}
	checked := 0
	for _, board := range gsBoards {
		for _, w := range windows {
			want := exp.ranking(board, w)
			require.NotEmpty(t, want, "%s %s: the expectation has players", board, w)
			require.Eventually(t, func() bool {
				code, _ := in.get("/leaderboards/" + board + "/rankings?" + w + "&source=cache")
				return code == http.StatusOK
			}, 30*time.Second, 100*time.Millisecond, "%s %s is served from Valkey", board, w)
			for _, source := range []string{"cache", "clickhouse"} {
				var body struct {
					Source     string      `json:"source"`
					Total      int         `json:"total_players"`
					Entries    []killEntry `json:"entries"`
					NextCursor *string     `json:"next_cursor"`
				}
				in.getJSON("/leaderboards/"+board+"/rankings?"+w+"&limit=1000&source="+source, &body)
				require.Equal(t, source, body.Source)
				require.Nil(t, body.NextCursor, "one page")
				assert.Equal(t, len(want), body.Total, "%s %s %s: total_players", board, w, source)
				assert.Equal(t, want, body.Entries, "%s %s: %s answers the expected ranking", board, w, source)
			}
			checked++
		}
	}
	t.Logf("%d board windows identical in Valkey, ClickHouse and the expectation; %s in all", checked, time.Since(began).Round(time.Millisecond))
	require.Equal(t, 0, in.stop(), in.logs.String())
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// gsCheckShutdownLog checks the order of the shutdown in the service's JSON
// log: the drain begins, the requests in flight finish (their access log
// lines), then the consumer is closed, then the producer, then Valkey and
// ClickHouse, then the embedded broker; nothing failed to close and the
// drain did not time out.
func gsCheckShutdownLog(t *testing.T, logs string) {
	t.Helper()
	type line struct {
		Msg        string  `json:"msg"`
		Level      string  `json:"level"`
		Resource   string  `json:"resource"`
		Route      string  `json:"route"`
		Status     int     `json:"status"`
		DurationMS float64 `json:"duration_ms"`
	}
	var lines []line
	for _, raw := range strings.Split(logs, "\n") {
		var l line
		if json.Unmarshal([]byte(raw), &l) == nil && l.Msg != "" {
			lines = append(lines, l)
		}
	}
	drainAt := -1
	closed := map[string]int{}
	lastHTTP, slowAfterDrain := -1, 0
	for i, l := range lines {
		switch l.Msg {
		case "shutting down: draining HTTP requests":
			require.Equal(t, -1, drainAt, "one drain")
			drainAt = i
		case "closed":
			_, dup := closed[l.Resource]
			require.False(t, dup, "%s closed once", l.Resource)
			closed[l.Resource] = i
		case "close failed", "http shutdown did not finish in time", "handler panic", "request failed":
			t.Errorf("shutdown log: %+v", l)
		case "http request":
			lastHTTP = i
			if drainAt >= 0 && l.Route == "/events" && l.Status == http.StatusAccepted && l.DurationMS >= float64(gsSlowHold.Milliseconds()) {
				slowAfterDrain++
			}
		}
		if strings.EqualFold(l.Level, "ERROR") {
			t.Errorf("error in the log: %+v", l)
		}
	}
	require.GreaterOrEqual(t, drainAt, 0, "the drain began")
	require.GreaterOrEqual(t, slowAfterDrain, gsSlowPosts, "the POSTs in flight were answered during the drain")
	for _, r := range []string{"kafka consumer", "background tasks", "kafka producer", "valkey", "clickhouse", "embedded kafka"} {
		require.Contains(t, closed, r, "closed lines: %v", closed)
	}
	order := func(a string, ai int, b string, bi int) {
		assert.Less(t, ai, bi, "%s before %s", a, b)
	}
	order("the drain", drainAt, "the last HTTP request", lastHTTP)
	order("the last HTTP request (HTTP drained)", lastHTTP, "kafka consumer closed", closed["kafka consumer"])
	order("kafka consumer closed", closed["kafka consumer"], "kafka producer closed", closed["kafka producer"])
	order("kafka consumer closed", closed["kafka consumer"], "background tasks closed", closed["background tasks"])
	order("kafka producer closed", closed["kafka producer"], "valkey closed", closed["valkey"])
	order("kafka producer closed", closed["kafka producer"], "clickhouse closed", closed["clickhouse"])
	order("valkey closed", closed["valkey"], "embedded kafka closed", closed["embedded kafka"])
	order("clickhouse closed", closed["clickhouse"], "embedded kafka closed", closed["embedded kafka"])
	var seq []string
	for _, l := range lines[drainAt:] {
		if l.Msg == "closed" {
			seq = append(seq, l.Resource)
		}
	}
	t.Logf("shutdown order: HTTP drain, then %s", strings.Join(seq, ", "))
}

// gsDescribeGroup describes a consumer group of the broker at addr in one
// line (state, generation, members), for the test log.
func gsDescribeGroup(addr, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil {
		return err.Error()
	}
	g, ok := gs[group]
	if !ok {
		return "no such group"
	}
	if g.Err != nil {
		return g.Err.Error()
	}
	var members []string
	for _, m := range g.Members {
		members = append(members, m.MemberID+" ("+m.ClientID+"@"+m.ClientHost+")")
	}
	return fmt.Sprintf("state %s, members [%s]", g.State, strings.Join(members, ", "))
}

package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
)

const testTopic = "leaderboard.score-events"

// assertAbout checks got is within [lo, hi] x want: Run is paced, not a
// benchmark, and the race detector slows it down.
func assertAbout(t *testing.T, want float64, got int64, lo, hi float64) {
	t.Helper()
	assert.GreaterOrEqual(t, float64(got), lo*want, "got %d, want about %.0f", got, want)
	assert.LessOrEqual(t, float64(got), hi*want, "got %d, want about %.0f", got, want)
}

func TestRunKafka(t *testing.T) {
	cases := []struct {
		name     string
		rate     float64
		duration time.Duration
		batch    int
		invalid  float64
	}{
		{name: "200/s for 1s in batches of 20", rate: 200, duration: time.Second, batch: 20},
		{name: "50/s for 1s in batches of 100", rate: 50, duration: time.Second, batch: 100},
		{name: "with invalid records", rate: 300, duration: time.Second, batch: 50, invalid: 0.1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cluster, err := kfake.NewCluster(kfake.SeedTopics(3, testTopic))
			require.NoError(t, err)
			defer cluster.Close()

			cfg := kafkaConfig()
			cfg.Brokers = cluster.ListenAddrs()
			cfg.Topic = testTopic
			cfg.Rate, cfg.Duration, cfg.BatchSize = tc.rate, tc.duration, tc.batch
			cfg.InvalidFraction = tc.invalid
			cfg.Seed = 99

			var stats Stats
			start := time.Now()
			require.NoError(t, Run(context.Background(), cfg, &stats))
			elapsed := time.Since(start)
			assert.Less(t, elapsed, tc.duration+3*time.Second, "stops on time")

			s := stats.Snapshot()
			assertAbout(t, tc.rate*tc.duration.Seconds(), s.Sent, 0.6, 1.2)
			assert.Equal(t, s.Sent, s.Accepted, "every record acknowledged: %s", s)
			assert.Zero(t, s.Errors)
			assert.Zero(t, s.Rejected)

			recs := consumeAll(t, cluster.ListenAddrs(), int(s.Sent))
			require.Len(t, recs, int(s.Sent))
			partitioner := kgo.StickyKeyPartitioner(nil).ForTopic(testTopic)
			partitionOf := map[string]int32{}
			var invalid int64
			for _, r := range recs {
				want := int32(partitioner.Partition(&kgo.Record{Key: r.Key}, 3))
				assert.Equal(t, want, r.Partition, "key %q goes to its murmur2 partition", r.Key)
				if p, ok := partitionOf[string(r.Key)]; ok {
					assert.Equal(t, p, r.Partition, "key %q on one partition", r.Key)
				}
				partitionOf[string(r.Key)] = r.Partition
				_, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{
					Key: r.Key, CheckKey: true, Timestamp: r.Timestamp, MaxSkew: 5 * time.Minute,
				})
				if err != nil {
					require.ErrorIs(t, err, leaderboard.ErrInvalidArgument)
					invalid++
				}
			}
			assert.Equal(t, s.Invalid, invalid, "exactly the intended invalid records fail validation")
			if tc.invalid == 0 {
				assert.Zero(t, invalid)
			}
			assert.Greater(t, len(partitionOf), 10, "many keys")
		})
	}
}

func consumeAll(t *testing.T, brokers []string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(testTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < want && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
	}
	return recs
}

// fakeEvents mimics POST /events: NDJSON in, 202 {"accepted":N,"rejected":[...]}
// out, with the contract's validation against the current time.
type fakeEvents struct {
	token    string
	status   int // answer this status instead of validating, when non-zero
	requests atomic.Int64
	events   atomic.Int64
	mu       sync.Mutex
	problems []string
}

func (f *fakeEvents) problem(p string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.problems = append(f.problems, p)
}

func (f *fakeEvents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	if r.Method != http.MethodPost || r.URL.Path != "/events" {
		f.problem(r.Method + " " + r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-ndjson" {
		f.problem("Content-Type " + got)
	}
	if f.token != "" && r.Header.Get("Authorization") != "Bearer "+f.token {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"missing or wrong token"}}`))
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"kafka is down"}}`))
		return
	}
	type rejected struct {
		Index   int    `json:"index"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	answer := struct {
		Accepted int        `json:"accepted"`
		Rejected []rejected `json:"rejected"`
	}{Rejected: []rejected{}}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(nil, 1<<20)
	i := 0
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		_, err := leaderboard.ParseEvent(line, leaderboard.RecordContext{Timestamp: time.Now(), MaxSkew: 5 * time.Minute})
		var inv *leaderboard.InvalidEventError
		if errors.As(err, &inv) {
			answer.Rejected = append(answer.Rejected, rejected{Index: i, Code: string(inv.Reason), Message: inv.Message})
		} else {
			answer.Accepted++
		}
		i++
	}
	f.events.Add(int64(i))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(answer)
}

func TestRunHTTP(t *testing.T) {
	cases := []struct {
		name    string
		token   string
		rate    float64
		batch   int
		invalid float64
	}{
		{name: "with token, batches of 25", token: "ingest-secret", rate: 200, batch: 25, invalid: 0.05},
		{name: "open, small batches", rate: 300, batch: 5, invalid: 0.1},
		{name: "low rate, big batches", rate: 40, batch: 1000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeEvents{token: tc.token}
			srv := httptest.NewServer(fake)
			defer srv.Close()

			cfg := DefaultConfig()
			cfg.URL, cfg.Token = srv.URL+"/", tc.token
			cfg.Rate, cfg.Duration, cfg.BatchSize = tc.rate, time.Second, tc.batch
			cfg.InvalidFraction = tc.invalid
			cfg.DuplicateFraction, cfg.LateFraction, cfg.OutOfOrderFraction = 0.05, 0.05, 0.1

			var stats Stats
			start := time.Now()
			require.NoError(t, Run(context.Background(), cfg, &stats))
			assert.Less(t, time.Since(start), 3*time.Second, "stops on time")

			s := stats.Snapshot()
			assert.Empty(t, fake.problems)
			assertAbout(t, tc.rate, s.Sent, 0.6, 1.2)
			assert.Equal(t, s.Sent, fake.events.Load(), "the server got every event sent")
			assert.Zero(t, s.Errors, "%s", s)
			assert.Equal(t, s.Sent, s.Accepted+s.Rejected, "%s", s)
			assert.Equal(t, s.Invalid, s.Rejected, "exactly the invalid records are rejected: %s", s)
			assert.Positive(t, s.OutOfOrder)
		})
	}
}

func TestRunHTTPUnavailable(t *testing.T) {
	cases := []struct {
		name   string
		status int
	}{
		{name: "503", status: http.StatusServiceUnavailable},
		{name: "502", status: http.StatusBadGateway},
		{name: "429", status: http.StatusTooManyRequests},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeEvents{status: tc.status}
			srv := httptest.NewServer(fake)
			defer srv.Close()

			cfg := DefaultConfig()
			cfg.URL = srv.URL
			cfg.Rate, cfg.Duration, cfg.BatchSize = 1000, time.Second, 10

			var stats Stats
			start := time.Now()
			require.NoError(t, Run(context.Background(), cfg, &stats), "errors are counted, the run goes on")
			assert.Less(t, time.Since(start), 3*time.Second, "stops on time")

			s := stats.Snapshot()
			assert.Positive(t, s.Errors)
			assert.Equal(t, s.Sent, s.Errors, "%s", s)
			assert.Zero(t, s.Accepted)
			assert.Zero(t, s.Rejected)
			// 100 requests per second without backoff; with it, each of the
			// few workers makes about log2(1 s / 100 ms) + 1 requests.
			assert.Less(t, fake.requests.Load(), int64(40), "backs off")
			assert.Greater(t, fake.requests.Load(), int64(httpWorkers), "keeps going")
		})
	}
}

func TestRunHTTPFatal(t *testing.T) {
	cases := []struct {
		name    string
		server  string // token the server wants
		client  string // token loadgen sends
		path    string
		wantErr string
	}{
		{name: "wrong token", server: "right", client: "wrong", wantErr: "401"},
		{name: "missing token", server: "right", wantErr: "401"},
		{name: "wrong base URL", path: "/nope", wantErr: "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeEvents{token: tc.server}
			srv := httptest.NewServer(fake)
			defer srv.Close()

			cfg := DefaultConfig()
			cfg.URL, cfg.Token = srv.URL+tc.path, tc.client
			cfg.Rate, cfg.Duration = 100, 5*time.Second

			var stats Stats
			start := time.Now()
			err := Run(context.Background(), cfg, &stats)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.Less(t, time.Since(start), 2*time.Second, "stops at once")
			assert.Zero(t, stats.Accepted.Load())
		})
	}
}

func TestRunStopsWhenContextEnds(t *testing.T) {
	cases := []struct {
		name   string
		target string
	}{
		{name: "http", target: TargetHTTP},
		{name: "kafka", target: TargetKafka},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			switch tc.target {
			case TargetHTTP:
				srv := httptest.NewServer(&fakeEvents{})
				defer srv.Close()
				cfg.URL = srv.URL
			case TargetKafka:
				cluster, err := kfake.NewCluster(kfake.SeedTopics(3, testTopic))
				require.NoError(t, err)
				defer cluster.Close()
				cfg.Target, cfg.Brokers = TargetKafka, cluster.ListenAddrs()
			}
			cfg.Rate, cfg.Duration = 500, 0

			ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
			defer cancel()
			var stats Stats
			start := time.Now()
			require.NoError(t, Run(ctx, cfg, &stats), "a canceled context is a normal end")
			assert.Less(t, time.Since(start), 2*time.Second)
			s := stats.Snapshot()
			assert.Positive(t, s.Sent)
			assert.Equal(t, s.Sent, s.Accepted+s.Rejected+s.Errors, "%s", s)
		})
	}
}

func TestRunNilStatsAndInvalidConfig(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{name: "invalid config", mutate: func(c *Config) { c.Rate = 0 }, wantErr: "Rate"},
		{name: "nil stats", mutate: func(c *Config) { c.Duration = 200 * time.Millisecond }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(&fakeEvents{})
			defer srv.Close()
			cfg := DefaultConfig()
			cfg.URL = srv.URL
			tc.mutate(&cfg)
			err := Run(context.Background(), cfg, nil)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

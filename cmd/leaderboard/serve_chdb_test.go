//go:build chdb

package main_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/valkeytest"
)

const event = `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"2026-12-02T10:00:00Z"}`

func TestServeEndToEnd(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	took := in.start()
	t.Logf("service healthy %s after start", took)
	require.Less(t, took, 30*time.Second, "make run must start in under 30 s")

	h, err := in.health()
	require.NoError(t, err)
	for _, dep := range []string{"kafka", "clickhouse", "valkey"} {
		assert.Equal(t, "up", h.Dependencies[dep].Status, dep)
	}

	// A franz-go client produces through the embedded broker's real listener.
	kafkaAddr := in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]
	cl, err := kgo.NewClient(kgo.SeedBrokers(kafkaAddr))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Topic: "leaderboard.score-events", Key: []byte("b1:amy"), Value: []byte(event)}).FirstErr())

	// So does kcat, an outside client, with the contract's partitioner.
	kcat, err := exec.LookPath("kcat")
	require.NoError(t, err, "kcat is installed by .ci/run")
	cmd := exec.Command(kcat, "-b", kafkaAddr, "-P", "-t", "leaderboard.score-events", "-K", "|", "-X", "topic.partitioner=murmur2_random")
	cmd.Stdin = strings.NewReader("b1:bob|" + strings.ReplaceAll(strings.ReplaceAll(event, "amy", "bob"), "e1", "e2") + "\n")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kcat: %s", out)

	require.Eventually(t, func() bool {
		h, err := in.health()
		return err == nil && sumOffsets(h.ConsumedOffsets["clickhouse"]) == 2
	}, 30*time.Second, 200*time.Millisecond, "ClickHouse's Kafka engine table consumes both records")

	// Valkey going away is reported within 5 s, and coming back without a restart.
	vk.Stop()
	require.Eventually(t, func() bool {
		h, err := in.health()
		return err == nil && h.Dependencies["valkey"].Status == "down" && h.Status == "degraded"
	}, 5*time.Second, 100*time.Millisecond, "valkey down is reported within 5 s")
	vk.Restart()
	require.Eventually(t, func() bool {
		h, err := in.health()
		return err == nil && h.Dependencies["valkey"].Status == "up" && h.Status == "ok"
	}, 5*time.Second, 100*time.Millisecond, "valkey back is reported without a restart")

	// A second process on the same data folder is refused at once.
	code, _, stderr := in.runCmd(binPath, "migrate", "up")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "in use by another leaderboard process")

	require.Equal(t, 0, in.stop(), in.logs.String())

	// A restart keeps the broker's records and ClickHouse's data.
	in.start()
	h, err = in.health()
	require.NoError(t, err)
	assert.Equal(t, int64(2), sumOffsets(h.ConsumedOffsets["clickhouse"]), "data survives a restart")
	require.Equal(t, 0, in.stop(), in.logs.String())
}

func TestServeRefusesSchemaBehind(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	code, _, stderr := in.runCmd(binPath, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "leaderboard migrate up")
}

func TestInvalidConfiguration(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	file := filepath.Join(t.TempDir(), "a-file")
	require.NoError(t, os.WriteFile(file, []byte("x"), 0o644))

	cases := []struct {
		name    string
		bin     string
		args    []string
		env     map[string]string
		message string
	}{
		{"http address nonsense", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_HTTP_ADDR": "nonsense"}, "LEADERBOARD_HTTP_ADDR"},
		{"http port in use", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_HTTP_ADDR": busy.Addr().String()}, "address already in use"},
		{"kafka port in use", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_EMBEDDED_KAFKA_ADDR": busy.Addr().String()}, "LEADERBOARD_EMBEDDED_KAFKA_ADDR"},
		{"data folder under a file", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_DATA_DIR": filepath.Join(file, "data")}, "LEADERBOARD_DATA_DIR"},
		{"data folder is a file", binPath, []string{"migrate", "up"}, map[string]string{"LEADERBOARD_DATA_DIR": file}, "LEADERBOARD_DATA_DIR"},
		{"bad duration", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_MAX_CLOCK_SKEW": "soon"}, "LEADERBOARD_MAX_CLOCK_SKEW"},
		{"bad broker list", binPath, []string{"serve"}, map[string]string{"LEADERBOARD_KAFKA_BROKERS": "kafka"}, "LEADERBOARD_KAFKA_BROKERS"},
		{"embedded mode without chDB", serverBinPath, []string{"serve"}, nil, "build it with -tags chdb"},
		{"unknown command", binPath, []string{"frobnicate"}, nil, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := newInstance(t, "127.0.0.1:1")
			for k, v := range tc.env {
				in.env[k] = v
			}
			code, _, stderr := in.runCmd(tc.bin, tc.args...)
			assert.NotEqual(t, 0, code)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if tc.name == "unknown command" {
				last = stderr
			}
			assert.Contains(t, last, tc.message, "stderr: %s", stderr)
			assert.NotContains(t, stderr, "panic")
			assert.NotContains(t, stderr, "goroutine ")
		})
	}
}

func TestServeRefusesOtherSchemaParams(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	in.env["LEADERBOARD_MAX_CLOCK_SKEW"] = "10m"
	code, _, stderr := in.runCmd(binPath, "serve")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "LEADERBOARD_MAX_CLOCK_SKEW")
}

// cases.md C1: redelivery after a restart of the service process (and with
// it the embedded stores), checked through the HTTP API in both stores.
func TestRedeliveryAfterServiceRestart(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	in.start()
	d := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	e1 := `{"event_id":"e1","leaderboard_id":"b1","player_id":"amy","score":100,"occurred_at":"` + d + `T10:00:00Z"}`
	e2 := `{"event_id":"e2","leaderboard_id":"b1","player_id":"bob","score":50,"occurred_at":"` + d + `T10:01:00Z"}`
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]), kgo.DefaultProduceTopic("leaderboard.score-events"))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte("b1:amy"), Value: []byte(e1)}, &kgo.Record{Key: []byte("b1:bob"), Value: []byte(e2)}).FirstErr())
	in.waitConsumed(2)
	require.Equal(t, 0, in.stop(), in.logs.String())

	in.start()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte("b1:amy"), Value: []byte(e1)}).FirstErr())
	in.waitConsumed(3)
	for _, window := range []string{"window=daily&date=" + d, "window=weekly&date=" + d, "window=alltime"} {
		for _, source := range []string{"cache", "clickhouse"} {
			var body struct {
				Source  string `json:"source"`
				Total   int64  `json:"total_players"`
				Entries []struct {
					Rank     int64  `json:"rank"`
					PlayerID string `json:"player_id"`
					Score    int64  `json:"score"`
				} `json:"entries"`
			}
			in.getJSON("/leaderboards/b1/rankings?"+window+"&source="+source, &body)
			assert.Equal(t, source, body.Source)
			assert.Equal(t, int64(2), body.Total, "%s %s", window, source)
			require.Len(t, body.Entries, 2, "%s %s", window, source)
			assert.Equal(t, "amy", body.Entries[0].PlayerID)
			assert.Equal(t, int64(100), body.Entries[0].Score)
			assert.Equal(t, int64(1), body.Entries[0].Rank)
			assert.Equal(t, "bob", body.Entries[1].PlayerID)
			assert.Equal(t, int64(50), body.Entries[1].Score)
			assert.Equal(t, int64(2), body.Entries[1].Rank)
		}
	}
	require.Equal(t, 0, in.stop(), in.logs.String())
}

// The chDB binary finds the cached libchdb.so by itself, and says what to
// run (one line, no panic) when there is none.
func TestFindsLibchdbWithoutEnvironment(t *testing.T) {
	run := func(dir string) (int, string) {
		cmd := exec.Command(binPath, "help")
		cmd.Dir = dir
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "CHDB_LIB_PATH=") && !strings.HasPrefix(kv, "LEADERBOARD_LIBCHDB_CACHE=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		require.NoError(t, err)
		return 0, string(out)
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	code, out := run(wd) // inside the checkout: .cache/chdb is found
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "usage: leaderboard")

	code, out = run(t.TempDir())
	assert.Equal(t, 1, code)
	assert.Equal(t, "leaderboard: libchdb.so not found: run scripts/libchdb.sh (make build does), or set CHDB_LIB_PATH\n", out)
}

// ClickHouse unreachable (server mode, an address that refuses
// connections): the service starts degraded, hot reads keep working from
// Valkey, ClickHouse-only requests answer 503, and known hot boards keep
// receiving events.
func TestClickHouseUnavailable(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	in.migrate()
	in.start()
	d := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	ev := func(id string, score int) []byte {
		return []byte(`{"event_id":"` + id + `","leaderboard_id":"b1","player_id":"amy","score":` + strconv.Itoa(score) + `,"occurred_at":"` + d + `T10:00:00Z"}`)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(in.env["LEADERBOARD_EMBEDDED_KAFKA_ADDR"]), kgo.DefaultProduceTopic("leaderboard.score-events"))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte("b1:amy"), Value: ev("e1", 100)}).FirstErr())
	in.waitConsumed(1)
	require.Equal(t, 0, in.stop(), in.logs.String())

	in.env["LEADERBOARD_CLICKHOUSE_DSN"] = "clickhouse://" + freeAddr(t) + "/default?dial_timeout=200ms"
	in.startWith("degraded")
	h, err := in.health()
	require.NoError(t, err)
	assert.Equal(t, "down", h.Dependencies["clickhouse"].Status)
	assert.Equal(t, "up", h.Dependencies["valkey"].Status)

	code, body := in.get("/leaderboards/b1/rankings?window=daily&date=" + d)
	require.Equal(t, 200, code, body)
	assert.Contains(t, body, `"source":"cache"`)
	assert.Contains(t, body, `"player_id":"amy","score":100`)
	for _, path := range []string{
		"/leaderboards/b1/rankings?window=custom&from=" + d + "T00:00:00Z&to=" + d + "T23:00:00Z",
		"/leaderboards/b1/export?window=daily&date=" + d,
		"/leaderboards/b1/players/amy/events?window=alltime",
		"/leaderboards/b1/rankings?window=daily&date=" + d + "&source=clickhouse",
	} {
		code, body := in.get(path)
		assert.Equal(t, 503, code, "%s: %s", path, body)
		assert.Contains(t, body, `"code":"unavailable"`, path)
	}

	// A board the hot store holds keeps its aggregation without ClickHouse.
	require.NoError(t, cl.ProduceSync(ctx, &kgo.Record{Key: []byte("b1:amy"), Value: ev("e2", 5)}).FirstErr())
	require.Eventually(t, func() bool {
		_, body := in.get("/leaderboards/b1/rankings?window=alltime&source=cache")
		return strings.Contains(body, `"player_id":"amy","score":105`)
	}, 30*time.Second, 100*time.Millisecond, "events keep flowing into the hot boards")
	require.Equal(t, 0, in.stop(), in.logs.String())
}

// Kafka unreachable: /health degraded, POST /events 503, reads still served;
// consumption resumes by itself when Kafka returns, nothing lost.
func TestKafkaUnavailable(t *testing.T) {
	vk := valkeytest.Start(t)
	in := newInstance(t, vk.Addr())
	addr := freeAddr(t)
	_, portStr, _ := net.SplitHostPort(addr)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)
	kdir := t.TempDir()
	startKafka := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.Ports(port), kfake.DataDir(kdir))
		require.NoError(t, err)
		return c
	}
	kafka := startKafka()
	defer func() { kafka.Close() }()
	in.env["LEADERBOARD_KAFKA_BROKERS"] = addr
	in.migrate()
	in.start()

	d := time.Now().UTC().AddDate(0, 0, -1).Format("2006-01-02")
	post := func(id string) (int, string) {
		body := `[{"event_id":"` + id + `","leaderboard_id":"b1","player_id":"amy","score":1,"occurred_at":"` + d + `T10:00:00Z"}]`
		resp, err := http.Post(in.httpURL+"/events", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post("e1")
	require.Equal(t, 202, code, body)
	in.waitConsumed(1)

	kafka.Close()
	require.Eventually(t, func() bool {
		h, err := in.health()
		return err == nil && h.Status == "degraded" && h.Dependencies["kafka"].Status == "down"
	}, 10*time.Second, 100*time.Millisecond, "kafka down is reported")
	code, body = post("e2")
	assert.Equal(t, 503, code, body)
	assert.Contains(t, body, `"code":"unavailable"`)
	code, body = in.get("/leaderboards/b1/rankings?window=alltime")
	assert.Equal(t, 200, code, body)
	assert.Contains(t, body, `"score":1`)

	kafka = startKafka()
	require.Eventually(t, func() bool {
		h, err := in.health()
		return err == nil && h.Status == "ok"
	}, 30*time.Second, 200*time.Millisecond, "kafka back is reported")
	require.Eventually(t, func() bool {
		code, _ := post("e3")
		return code == 202
	}, 30*time.Second, 500*time.Millisecond, "POST /events works again")
	// e2 was answered 503; the idempotent producer may still deliver it once
	// Kafka is back (a client retry would be deduplicated): 2 or 3, the same
	// in both stores.
	score := func(source string) string {
		_, body := in.get("/leaderboards/b1/rankings?window=alltime&source=" + source)
		for _, s := range []string{`"score":2,`, `"score":3,`} {
			if strings.Contains(body, s) {
				return s
			}
		}
		return body
	}
	require.Eventually(t, func() bool {
		cache, clickhouse := score("cache"), score("clickhouse")
		return len(cache) < 12 && cache == clickhouse
	}, 60*time.Second, 200*time.Millisecond, "both stores consume again by themselves")
	require.Equal(t, 0, in.stop(), in.logs.String())
}

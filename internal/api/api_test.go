package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/ingest"
)

const topic = "leaderboard.score-events"

type fixture struct {
	srv     *api.Server
	kafka   *kfake.Cluster
	checker *health.Checker
	down    map[string]bool
}

func newFixture(t *testing.T, ingestToken, adminToken string) *fixture {
	t.Helper()
	kc, err := kfake.NewCluster(kfake.SeedTopics(3, topic))
	require.NoError(t, err)
	t.Cleanup(kc.Close)
	f := &fixture{kafka: kc, down: map[string]bool{}}
	probe := func(name string) health.Probe {
		return func(context.Context) error {
			if f.down[name] {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
	}
	f.checker = health.New(time.Second, map[string]health.Probe{
		"kafka": probe("kafka"), "clickhouse": probe("clickhouse"), "valkey": probe("valkey"),
	})
	f.checker.CheckNow(context.Background())
	f.srv = api.New(api.Deps{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry:    prometheus.NewRegistry(),
		Health:      f.checker,
		IngestToken: ingestToken,
		AdminToken:  adminToken,
	})
	p, err := ingest.NewProducer(kc.ListenAddrs(), topic, 2*time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { p.Close(context.Background()) })
	// The clock is real: franz-go times records out relative to their timestamp.
	f.srv.RegisterEvents(p, 5*time.Minute, time.Now)
	return f
}

func (f *fixture) do(method, path, contentType, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	f.srv.Handler().ServeHTTP(rec, req)
	return rec
}

// at returns now + d in the contract's format.
func at(d time.Duration) string { return time.Now().Add(d).UTC().Format("2006-01-02T15:04:05.000Z") }

func ev(id, board, player string, score int, at string) string {
	return `{"event_id":"` + id + `","leaderboard_id":"` + board + `","player_id":"` + player + `","score":` +
		json.Number(itoa(score)).String() + `,"occurred_at":"` + at + `"}`
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
	require.NotEmpty(t, body.Error.Message)
	return body.Error.Code
}

func TestPostEvents(t *testing.T) {
	f := newFixture(t, "", "")
	valid := ev("e1", "b1", "amy", 100, at(-time.Hour))
	valid2 := ev("e2", "b1", "bob", 5, time.Now().Add(-time.Hour).In(time.FixedZone("", 3600)).Format("2006-01-02T15:04:05-07:00"))
	future := ev("e3", "b1", "amy", 1, at(6*time.Minute))
	cases := []struct {
		name        string
		contentType string
		body        string
		status      int
		accepted    int
		rejected    map[int]string
	}{
		{"array of valid events", "application/json", "[" + valid + "," + valid2 + "]", 202, 2, nil},
		{"ndjson with blank lines", "application/x-ndjson", valid + "\n\n" + valid2 + "\n", 202, 2, nil},
		{"array with invalid items", "application/json", "[" + valid + `,{"event_id":"x"},` + future + `,42]`, 202, 1,
			map[int]string{1: "missing_field", 2: "occurred_at_out_of_range", 3: "malformed_json"}},
		{"ndjson with a broken line", "application/x-ndjson", valid + "\n{\"event_id\":\n", 202, 1, map[int]string{1: "malformed_json"}},
		// index counts records, not lines: blank lines do not count.
		{"ndjson index after blank lines", "application/x-ndjson", valid + "\n\n  \n{bad\n" + valid2 + "\n", 202, 2, map[int]string{1: "malformed_json"}},
		{"empty array", "application/json", "[]", 202, 0, nil},
		{"not an array", "application/json", valid, 400, 0, nil},
		{"broken array", "application/json", "[" + valid, 400, 0, nil},
		{"garbage after the array", "application/json", "[] []", 400, 0, nil},
		{"wrong content type", "text/plain", "[]", 400, 0, nil},
		{"too many events", "application/json", "[" + strings.Repeat(valid+",", 1000) + valid + "]", 413, 0, nil},
		{"body too large", "application/x-ndjson", strings.Repeat(" ", api.MaxEventsBody+1), 413, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodPost, "/events", tc.contentType, tc.body)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status != 202 {
				errorCode(t, rec)
				return
			}
			var body struct {
				Accepted int `json:"accepted"`
				Rejected []struct {
					Index int    `json:"index"`
					Code  string `json:"code"`
				} `json:"rejected"`
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tc.accepted, body.Accepted)
			got := map[int]string{}
			for _, r := range body.Rejected {
				got[r.Index] = r.Code
			}
			if tc.rejected == nil {
				tc.rejected = map[int]string{}
			}
			assert.Equal(t, tc.rejected, got)
		})
	}
}

func TestPostEventsProducesKeyedRecords(t *testing.T) {
	f := newFixture(t, "", "")
	valid := ev("e1", "b1", "amy", 100, at(-time.Hour))
	rec := f.do(http.MethodPost, "/events", "application/json", "[ "+valid+" ]")
	require.Equal(t, 202, rec.Code, rec.Body.String())

	cl, err := kgo.NewClient(kgo.SeedBrokers(f.kafka.ListenAddrs()...), kgo.ConsumeTopics(topic))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fetches := cl.PollFetches(ctx)
	require.NoError(t, fetches.Err())
	recs := fetches.Records()
	require.Len(t, recs, 1)
	assert.Equal(t, "b1:amy", string(recs[0].Key))
	assert.Equal(t, valid, string(recs[0].Value), "the original bytes are produced")
	assert.WithinDuration(t, time.Now(), recs[0].Timestamp, 10*time.Second, "record timestamp is the validation time")
	assert.Zero(t, recs[0].Timestamp.Nanosecond()%int(time.Millisecond), "millisecond precision, as Kafka keeps it")
}

func TestPostEventsKafkaDown(t *testing.T) {
	f := newFixture(t, "", "")
	f.kafka.Close()
	rec := f.do(http.MethodPost, "/events", "application/json", "["+ev("e1", "b1", "amy", 1, at(-time.Hour))+"]")
	assert.Equal(t, http.StatusServiceUnavailable, rec.Code, rec.Body.String())
	assert.Equal(t, "unavailable", errorCode(t, rec))
}

func TestIngestToken(t *testing.T) {
	f := newFixture(t, "in-token", "admin-token")
	body := "[" + ev("e1", "b1", "amy", 1, at(-time.Hour)) + "]"
	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"missing", nil, 401},
		{"wrong", []string{"Authorization", "Bearer nope"}, 401},
		{"admin token is not the ingest token", []string{"Authorization", "Bearer admin-token"}, 401},
		{"not bearer", []string{"Authorization", "Basic in-token"}, 401},
		{"right", []string{"Authorization", "Bearer in-token"}, 202},
		{"scheme in lower case", []string{"Authorization", "bearer in-token"}, 202},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.do(http.MethodPost, "/events", "application/json", body, tc.header...)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			if tc.status == 401 {
				assert.Equal(t, "unauthenticated", errorCode(t, rec))
			}
		})
	}
}

func TestHealthStatus(t *testing.T) {
	cases := []struct {
		name   string
		down   []string
		status string
		code   int
	}{
		{"all up", nil, "ok", 200},
		{"kafka down", []string{"kafka"}, "degraded", 200},
		{"valkey down", []string{"valkey"}, "degraded", 200},
		{"clickhouse down", []string{"clickhouse"}, "degraded", 200},
		{"both stores down", []string{"valkey", "clickhouse"}, "down", 503},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, "", "")
			for _, d := range tc.down {
				f.down[d] = true
			}
			f.checker.CheckNow(context.Background())
			rec := f.do(http.MethodGet, "/health", "", "")
			require.Equal(t, tc.code, rec.Code)
			var body struct {
				Status       string
				Dependencies map[string]struct{ Status string }
			}
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
			assert.Equal(t, tc.status, body.Status)
			for _, d := range tc.down {
				assert.Equal(t, "down", body.Dependencies[d].Status)
			}
			ready := f.do(http.MethodGet, "/readyz", "", "")
			assert.Equal(t, tc.code, ready.Code)
			assert.Equal(t, 200, f.do(http.MethodGet, "/livez", "", "").Code)
		})
	}
}

func TestErrorsAndMetrics(t *testing.T) {
	f := newFixture(t, "", "")
	rec := f.do(http.MethodGet, "/no/such/route", "", "")
	assert.Equal(t, 404, rec.Code)
	assert.Equal(t, "not_found", errorCode(t, rec))
	rec = f.do(http.MethodGet, "/livez/", "", "")
	assert.Equal(t, 404, rec.Code, "a trailing slash is not redirected")
	assert.Equal(t, "not_found", errorCode(t, rec))
	rec = f.do(http.MethodDelete, "/events", "", "")
	assert.Equal(t, 405, rec.Code)
	rec = f.do(http.MethodPost, "/events?x=1", "application/json", "[]")
	assert.Equal(t, 400, rec.Code)
	assert.Equal(t, "invalid_argument", errorCode(t, rec))

	metrics := f.do(http.MethodGet, "/metrics", "", "").Body.String()
	assert.Contains(t, metrics, `leaderboard_http_requests_total{method="POST",route="/events",status="400"} 1`)
	assert.Contains(t, metrics, `leaderboard_http_request_duration_seconds_bucket{method="GET",route="unmatched",status="404"`)
	assert.Contains(t, metrics, "go_goroutines")
}

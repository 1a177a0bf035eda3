//go:build chdb

package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/stacktest"
)

func consumeAll(t *testing.T, s *stacktest.Stack, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.ConsumeTopics(topic))
	require.NoError(t, err)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "waiting for %d records on %s, got %d", n, topic, len(out))
		out = append(out, f.Records()...)
	}
	return out
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func queryInt(t *testing.T, s *stacktest.Stack, q string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.Store.DB().QueryRow("SELECT toInt64(("+q+"))").Scan(&n))
	return n
}

func counter(t *testing.T, s *stacktest.Stack, name string) float64 {
	return counterWith(t, s, name, "")
}

// counterWith sums a counter's series, keeping those with a label value of
// label when it is not empty.
func counterWith(t *testing.T, s *stacktest.Stack, name, label string) float64 {
	t.Helper()
	mfs, err := s.Registry.Gather()
	require.NoError(t, err)
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			keep := label == ""
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					keep = true
				}
			}
			if keep {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func gauge(t *testing.T, s *stacktest.Stack, name string) float64 {
	t.Helper()
	mfs, err := s.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

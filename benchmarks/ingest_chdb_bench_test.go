//go:build chdb

package benchmarks

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// BenchmarkIngestEndToEnd produces b.N events (100 boards, 5000 players per
// board) to a kfake broker and waits until both the service's consumer
// (Valkey) and ClickHouse's Kafka engine (chDB) have consumed them all.
// events/s is the slower of the two stores.
func BenchmarkIngestEndToEnd(b *testing.B) {
	s := stacktest.Start(b, stacktest.Options{})
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	recs := make([]*kgo.Record, 0, b.N)
	for i := 0; i < b.N; i++ {
		ev := leaderboard.Event{
			EventID: fmt.Sprintf("e%d", i), BoardID: fmt.Sprintf("board-%03d", i%100),
			PlayerID: fmt.Sprintf("p%05d", (i*7919)%5000), Score: int64(i % 100), OccurredAt: now,
		}
		v, err := ev.RecordValue()
		require.NoError(b, err)
		recs = append(recs, &kgo.Record{Key: []byte(ev.Key()), Value: v})
	}
	b.ResetTimer()
	for lo := 0; lo < len(recs); lo += 5000 {
		s.Produce(recs[lo:min(lo+5000, len(recs))]...)
	}
	s.WaitConsumed()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

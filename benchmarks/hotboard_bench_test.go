package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/valkeytest"
)

// BenchmarkApply measures the consumer's atomic Valkey step: b.N events
// applied in batches to one board's three windows (10 000 players).
func BenchmarkApply(b *testing.B) {
	for _, batch := range []int{1, 100, 500} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			srv := valkeytest.Start(b)
			hot := hotboard.New(srv.Client(b), hotboard.Options{CreateMissing: true})
			ctx := context.Background()
			now := time.Now().UTC()
			items := make([]hotboard.Item, 0, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				items = append(items, hotboard.Item{Partition: 0, Offset: int64(i), Event: leaderboard.Event{
					EventID: fmt.Sprintf("e%d", i), BoardID: "bench", PlayerID: fmt.Sprintf("p%05d", i%10000),
					Score: int64(i % 100), OccurredAt: now.Add(-time.Duration(i%3600) * time.Second).Truncate(time.Millisecond),
				}})
				if len(items) == batch || i == b.N-1 {
					_, err := hot.Apply(ctx, "bench", leaderboard.Sum, items, now)
					require.NoError(b, err)
					items = items[:0]
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkReads measures the hot reads the API serves: a top-50 page and a
// player with 5 players of context, on a board of 100 000 players.
func BenchmarkReads(b *testing.B) {
	srv := valkeytest.Start(b)
	hot := hotboard.New(srv.Client(b), hotboard.Options{CreateMissing: true})
	ctx := context.Background()
	w := leaderboard.AllTimeWindow()
	st := make([]leaderboard.Standing, 100000)
	now := time.Now().UTC().Truncate(time.Millisecond)
	for i := range st {
		st[i] = leaderboard.Standing{PlayerID: fmt.Sprintf("p%06d", i), Score: int64(i % 5000), ReachedAt: now.Add(-time.Duration(i) * time.Millisecond)}
	}
	require.NoError(b, hot.Replace(ctx, "reads", w, st, map[int32]int64{}))
	run := func(b *testing.B) {
		b.Run("top50", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := hot.RangePage(ctx, "reads", w, 0, 50)
				require.NoError(b, err)
			}
		})
		b.Run("player-context5", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, err := hot.AroundView(ctx, "reads", w, fmt.Sprintf("p%06d", i%100000), 5)
				require.NoError(b, err)
			}
		})
	}
	run(b)
	// as the service runs while the feed is trusted: each read also checks
	// the marker key (one more round trip)
	c := srv.Client(b)
	require.NoError(b, c.Do(ctx, c.B().Set().Key("lb:alive").Value("1").Build()).Error())
	hot.SetKeptCheck(func(ctx context.Context) (bool, error) {
		n, err := c.Do(ctx, c.B().Exists().Key("lb:alive").Build()).AsInt64()
		return n == 1, err
	})
	b.Run("kept-check", run)
}

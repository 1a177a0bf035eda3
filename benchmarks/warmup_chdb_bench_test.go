//go:build chdb

package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// BenchmarkWarmUp is the forced warm-up after a Valkey loss: 50 boards of
// 1 000 players, 150 000 events spread over the last 10 days (inserted
// straight into ClickHouse's events table), every hot window of every board
// rebuilt with the identity marks seeded.
func BenchmarkWarmUp(b *testing.B) {
	const boards, players, events = 50, 1000, 150_000
	s := stacktest.Start(b, stacktest.Options{})
	s.StopConsumer()
	now := time.Now().UTC()
	_, err := s.Store.DB().ExecContext(context.Background(), fmt.Sprintf(
		"INSERT INTO %[1]s.events (board_id, player_id, event_id, score, occurred_at, metadata, fingerprint, src_partition, src_offset, record_ts, ver) "+
			"SELECT concat('b', toString(number %% %[2]d)) AS b, concat('p', toString(intDiv(number, %[2]d) %% %[3]d)), toString(number), "+
			"toInt64(number %% 997) - 40 AS sc, fromUnixTimestamp64Milli(toInt64(%[4]d - (number %% 864000) * 1000) AS ms, 'UTC'), '', "+
			"concat(toString(sc), '|', toString(ms), '|'), 0, number, now64(3), 18446744073709551615 - number FROM numbers(%[5]d)",
		s.Database, boards, players, now.UnixMilli(), events))
	require.NoError(b, err)
	r := rebuilderAt(s, events)
	windows := boards * len(leaderboard.HotWindows(now))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := s.Valkey.Client(b)
		require.NoError(b, c.Do(context.Background(), c.B().Flushall().Build()).Error())
		s.Hot.SetCreateMissing(false)
		b.StartTimer()
		rep, err := r.WarmUp(context.Background(), true, 10*time.Minute)
		require.NoError(b, err)
		require.Equal(b, boards, rep.Boards)
		require.Equal(b, windows, rep.Rebuilt, "%+v", rep)
	}
	b.ReportMetric(float64(windows)*float64(b.N)/b.Elapsed().Seconds(), "windows/s")
}

//go:build chdb

package benchmarks

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/recovery"
	"example.com/leaderboard/internal/stacktest"
)

type direct struct{}

func (direct) Exclusive(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }

// rebuilderAt rebuilds from events inserted straight into ClickHouse at
// offsets 0..n-1 of partition 0, with no consumer running.
func rebuilderAt(s *stacktest.Stack, n int64) *recovery.Rebuilder {
	at := func(context.Context) (map[int32]int64, error) { return map[int32]int64{0: n, 1: 0, 2: 0}, nil }
	return recovery.NewRebuilder(s.Store, s.Hot, direct{}, recovery.Config{ServiceOffsets: at, ClickHouseOffsets: at},
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
}

// BenchmarkRebuild rebuilds the all-time window of a board of
// LEADERBOARD_BENCH_PLAYERS players (default 100 000, one event each,
// inserted straight into ClickHouse's events table) from chDB into Valkey,
// with and without seeding the identity marks (as after a Valkey loss).
func BenchmarkRebuild(b *testing.B) {
	n := 100_000
	if v := os.Getenv("LEADERBOARD_BENCH_PLAYERS"); v != "" {
		var err error
		n, err = strconv.Atoi(v)
		require.NoError(b, err)
	}
	s := stacktest.Start(b, stacktest.Options{})
	s.StopConsumer()
	now := time.Now().UTC()
	_, err := s.Store.DB().ExecContext(context.Background(), fmt.Sprintf(
		"INSERT INTO %s.events (board_id, player_id, event_id, score, occurred_at, metadata, fingerprint, src_partition, src_offset, record_ts, ver) "+
			"SELECT 'big', concat('p', leftPad(toString(number), 7, '0')), 'e1', toInt64(number %% 997) - 40, "+
			"fromUnixTimestamp64Milli(toInt64(%d - (number %% 3600) * 1000), 'UTC'), '', concat(toString(toInt64(number %% 997) - 40), '|0|'), 0, number, now64(3), 0 FROM numbers(%d)",
		s.Database, now.UnixMilli(), n))
	require.NoError(b, err)
	r := rebuilderAt(s, int64(n))
	for _, seed := range []bool{false, true} {
		b.Run(fmt.Sprintf("players=%d/seed_marks=%v", n, seed), func(b *testing.B) {
			s.Hot.SetCreateMissing(!seed)
			for i := 0; i < b.N; i++ {
				if seed {
					// a fresh board each time, so the marks are seeded again
					c := s.Valkey.Client(b)
					require.NoError(b, c.Do(context.Background(), c.B().Flushall().Build()).Error())
				}
				res, err := r.Rebuild(context.Background(), "big", leaderboard.AllTimeWindow())
				require.NoError(b, err)
				require.EqualValues(b, n, res.Players)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "players/s")
		})
	}
}

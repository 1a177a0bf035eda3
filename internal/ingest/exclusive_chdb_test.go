//go:build chdb

package ingest_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
	"example.com/leaderboard/internal/stacktest"
)

// While Exclusive runs, the consumer applies nothing and everything it
// applied before is committed; afterwards it goes on where it stopped.
func TestExclusive(t *testing.T) {
	s := stacktest.Start(t, stacktest.Options{})
	ctx := context.Background()
	s.Produce(rec("e1", "ex", "amy", 1, at("10:00")))
	s.WaitConsumed()
	all := leaderboard.AllTimeWindow()

	err := s.Consumer().Exclusive(ctx, func(ctx context.Context) error {
		committed, err := s.ServiceOffsets(ctx)
		require.NoError(t, err)
		for p, end := range s.EndOffsets() {
			require.Equal(t, end, committed[p], "everything applied is committed: partition %d", p)
		}
		s.Produce(rec("e2", "ex", "amy", 10, at("10:01")))
		time.Sleep(time.Second) // the consumer polls every 250 ms
		n, err := s.Hot.Count(ctx, "ex", all)
		require.NoError(t, err)
		page, err := s.Hot.RangePage(ctx, "ex", all, 0, 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.EqualValues(t, 1, page.Entries[0].Score, "nothing applied while held")
		return nil
	})
	require.NoError(t, err)
	s.WaitConsumed()
	expectBoth(t, s, "ex", []row{{"amy", 11}})

	t.Run("a held turn does not block stopping", func(t *testing.T) {
		hold := make(chan struct{})
		held := make(chan struct{})
		go func() {
			_ = s.Consumer().Exclusive(ctx, func(context.Context) error { close(held); <-hold; return nil })
		}()
		<-held
		s.Produce(rec("e3", "ex", "amy", 100, at("10:02")))
		time.Sleep(500 * time.Millisecond)
		stopped := make(chan struct{})
		go func() { s.StopConsumer(); close(stopped) }()
		require.Eventually(t, func() bool {
			select {
			case <-stopped:
				return true
			default:
				return false
			}
		}, 20*time.Second, 10*time.Millisecond, "the consumer stops while the turn is still held")
		close(hold)
		s.StartConsumer(nil)
		s.WaitConsumed()
		expectBoth(t, s, "ex", []row{{"amy", 111}})
	})
}

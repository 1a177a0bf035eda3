package warehouse

import (
	"context"
	"fmt"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Export streams every ranked entry of the window, in rank order, to fn,
// from one SQL statement: the rows are read as ClickHouse produces them
// (with the embedded engine through chdb-go's Parquet streaming mode), so
// the Go memory does not grow with the board. fn returning an error, or ctx
// ending, stops the read and cancels the query. A total outside ±(2^53-1)
// met on the way stops the export with an error wrapping
// leaderboard.ErrTotalOutOfRange (callers check Count first, so that this
// only happens when such a total appeared during the export).
func (s *Store) Export(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, fn func(leaderboard.Entry) error) (err error) {
	db, err := s.streamDB()
	if err != nil {
		return err
	}
	q, args := s.standingsQuery(board, w, agg)
	rows, err := db.QueryContext(ctx, "SELECT player_id, total, reached_ms FROM ("+q+")"+rankingOrder+noJIT, args...)
	if err != nil {
		return fmt.Errorf("clickhouse export: %w", err)
	}
	defer func() {
		// Closing a streaming result cancels the query in the engine.
		if cerr := rows.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("clickhouse export: %w", cerr)
		}
	}()
	var rank int64
	for rows.Next() {
		var (
			e  leaderboard.Entry
			ms int64
		)
		if err := rows.Scan(&e.PlayerID, &e.Score, &ms); err != nil {
			return fmt.Errorf("clickhouse export: %w", err)
		}
		if err := leaderboard.CheckTotal(e.Score); err != nil {
			return fmt.Errorf("board %s, window %s, player %q: %w", board, w.Key(), e.PlayerID, err)
		}
		rank++
		e.Rank = rank
		e.ReachedAt = time.UnixMilli(ms).UTC()
		if err := fn(e); err != nil {
			return err
		}
		if rank%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse export: %w", err)
	}
	return ctx.Err()
}

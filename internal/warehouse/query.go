package warehouse

import (
	"context"
	"fmt"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Query reads for the HTTP API beyond Standings/StandingsPage/Count:
// continuation after a cursor, a player with the players ranked around him,
// and a player's accepted events (the audit answer to "why is my score X?").
// Every read is one SQL statement over standingsQuery, so the ranking order,
// FINAL deduplication and window rules are the ones Standings uses.

// rankedQuery numbers the window's standings in ranking order (rnk 1..n) and
// adds the window's player count and largest |total| to every row.
func (s *Store) rankedQuery(board string, w leaderboard.Window, agg leaderboard.Aggregation) (string, []any) {
	q, args := s.standingsQuery(board, w, agg)
	return "SELECT player_id, total, reached_ms, " +
		"toInt64(row_number() OVER (ORDER BY total DESC, reached_ms ASC, player_id ASC)) AS rnk, " +
		"toInt64(count() OVER ()) AS players, toInt64(max(abs(total)) OVER ()) AS worst FROM (" + q + ")", args
}

// scanRanked reads rows of (player_id, total, reached_ms, rnk, players,
// worst) into entries; it returns the player count and worst |total| of the
// last row (every row carries the same), and whether any row was read.
func scanRanked(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (out []leaderboard.Entry, players, worst int64, got bool, err error) {
	for rows.Next() {
		var (
			e  leaderboard.Entry
			ms int64
		)
		if err := rows.Scan(&e.PlayerID, &e.Score, &ms, &e.Rank, &players, &worst); err != nil {
			return nil, 0, 0, false, err
		}
		got = true
		e.ReachedAt = time.UnixMilli(ms).UTC()
		out = append(out, e)
	}
	return out, players, worst, got, rows.Err()
}

// StandingsAfter returns up to limit entries ranked strictly after the
// standing after (a cursor: the last entry of the previous page), whether or
// not that standing is still on the board, with their ranks, and the
// window's player count. A player whose standing did not change between two
// pages is never repeated or skipped. It fails with
// leaderboard.ErrTotalOutOfRange when any total of the window leaves
// ±(2^53-1).
func (s *Store) StandingsAfter(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, after leaderboard.Standing, limit int64) ([]leaderboard.Entry, int64, error) {
	if limit < 0 {
		return nil, 0, fmt.Errorf("%w: limit must not be negative", leaderboard.ErrInvalidArgument)
	}
	q, args := s.rankedQuery(board, w, agg)
	ms := after.ReachedAt.UnixMilli()
	args = append(args, after.Score, after.Score, ms, ms, after.PlayerID, limit)
	rows, err := s.db.QueryContext(ctx,
		"SELECT player_id, total, reached_ms, rnk, players, worst FROM ("+q+") "+
			"WHERE total < toInt64(?) OR (total = toInt64(?) AND (reached_ms > toInt64(?) OR (reached_ms = toInt64(?) AND player_id > ?))) "+
			"ORDER BY rnk LIMIT ?"+noJIT, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("clickhouse standings after: %w", err)
	}
	defer rows.Close()
	out, players, worst, got, err := scanRanked(rows)
	if err != nil {
		return nil, 0, fmt.Errorf("clickhouse standings after: %w", err)
	}
	return s.page(ctx, board, w, agg, out, players, worst, got)
}

// Around is a player's entry with the players ranked just above and below.
type Around struct {
	Total int64 // every ranked player of the window
	Found bool  // false: the player has no accepted event in the window
	Me    leaderboard.Entry
	Above []leaderboard.Entry // best first
	Below []leaderboard.Entry // best first
}

// PlayerAround returns a player's entry with up to around entries ranked
// just above and just below, read in one statement. Found is false when the
// player has no accepted event in the window (Total is then not read).
func (s *Store) PlayerAround(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, player string, around int64) (Around, error) {
	if around < 0 {
		return Around{}, fmt.Errorf("%w: context must not be negative", leaderboard.ErrInvalidArgument)
	}
	q, args := s.rankedQuery(board, w, agg)
	// The ranked CTE is evaluated for the outer query and for the scalar
	// subquery; an absent player makes the subquery 0, which selects ranks
	// <= around only, none of them the player's.
	all := append(append([]any{}, args...), player, around, around)
	rows, err := s.db.QueryContext(ctx,
		"WITH ranked AS ("+q+"), (SELECT any(rnk) FROM ranked WHERE player_id = ?) AS me "+
			"SELECT player_id, total, reached_ms, rnk, players, worst FROM ranked "+
			"WHERE me > 0 AND rnk BETWEEN me - toInt64(?) AND me + toInt64(?) ORDER BY rnk"+noJIT, all...)
	if err != nil {
		return Around{}, fmt.Errorf("clickhouse player: %w", err)
	}
	defer rows.Close()
	entries, players, worst, _, err := scanRanked(rows)
	if err != nil {
		return Around{}, fmt.Errorf("clickhouse player: %w", err)
	}
	out := Around{Total: players}
	idx := -1
	for i, e := range entries {
		if e.PlayerID == player {
			idx = i
			break
		}
	}
	if idx < 0 {
		return Around{}, nil
	}
	if err := leaderboard.CheckTotal(worst); err != nil {
		return Around{}, fmt.Errorf("board %s, window %s: %w", board, w.Key(), err)
	}
	out.Found, out.Me = true, entries[idx]
	out.Above = entries[:idx]
	out.Below = entries[idx+1:]
	return out, nil
}

// PlayerEvent is one accepted event of a player, as stored.
type PlayerEvent struct {
	EventID    string
	Score      int64
	OccurredAt time.Time
	Metadata   string // compacted JSON object, "" when absent
	Partition  int32
	Offset     int64
	RecordTime time.Time
}

// PlayerEvents returns a player's accepted events in the window (after
// FINAL, so each identity once, the delivery with the lowest offset), by
// occurred_at then event_id.
func (s *Store) PlayerEvents(ctx context.Context, board string, w leaderboard.Window, player string) ([]PlayerEvent, error) {
	q := "SELECT event_id, score, toUnixTimestamp64Milli(occurred_at) AS occ, metadata, toInt32(src_partition), toInt64(src_offset), " +
		"toUnixTimestamp64Milli(record_ts) FROM " + s.database + ".events FINAL WHERE board_id = ? AND player_id = ?"
	args := []any{board, player}
	if w.Type != leaderboard.AllTime {
		q = "SELECT * FROM (" + q + ") WHERE occ >= toInt64(?) AND occ < toInt64(?)"
		args = append(args, w.Start.UnixMilli(), w.End.UnixMilli())
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY occ, event_id", args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse player events: %w", err)
	}
	defer rows.Close()
	var out []PlayerEvent
	for rows.Next() {
		var (
			e        PlayerEvent
			occ, rts int64
		)
		if err := rows.Scan(&e.EventID, &e.Score, &occ, &e.Metadata, &e.Partition, &e.Offset, &rts); err != nil {
			return nil, fmt.Errorf("clickhouse player events: %w", err)
		}
		e.OccurredAt = time.UnixMilli(occ).UTC()
		e.RecordTime = time.UnixMilli(rts).UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse player events: %w", err)
	}
	return out, nil
}

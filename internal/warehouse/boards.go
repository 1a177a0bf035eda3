package warehouse

import (
	"context"
	"fmt"
	"sort"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Board is a leaderboard as the API shows it. A board exists when it has a
// definition (PUT /leaderboards/:id) or at least one accepted event; one
// without a definition is a sum board with an empty name.
type Board struct {
	ID          string
	Name        string
	Aggregation leaderboard.Aggregation
	Defined     bool
	UpdatedAt   time.Time // zero when not defined
	HasEvents   bool
}

// BoardHasEvents reports whether the board has at least one accepted event
// (in any window).
func (s *Store) BoardHasEvents(ctx context.Context, board string) (bool, error) {
	var n uint8
	err := s.db.QueryRowContext(ctx,
		"SELECT toUInt8(count() > 0) FROM (SELECT 1 FROM "+s.database+".events WHERE board_id = ? LIMIT 1)", board).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("clickhouse board %s: %w", board, err)
	}
	return n == 1, nil
}

// definitions reads board definitions (all of them when board is "").
func (s *Store) definitions(ctx context.Context, board string) ([]Board, error) {
	q := "SELECT board_id, name, toString(aggregation), toUnixTimestamp64Milli(updated_at) FROM " + s.database + ".boards FINAL"
	var args []any
	if board != "" {
		q += " WHERE board_id = ?"
		args = append(args, board)
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY board_id", args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse boards: %w", err)
	}
	defer rows.Close()
	var out []Board
	for rows.Next() {
		var (
			b   Board
			agg string
			ms  int64
		)
		if err := rows.Scan(&b.ID, &b.Name, &agg, &ms); err != nil {
			return nil, fmt.Errorf("clickhouse boards: %w", err)
		}
		if b.Aggregation, err = leaderboard.ParseAggregation(agg); err != nil {
			return nil, fmt.Errorf("clickhouse board %s: stored %w", b.ID, err)
		}
		b.Defined, b.UpdatedAt = true, time.UnixMilli(ms).UTC()
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse boards: %w", err)
	}
	return out, nil
}

// Board returns one board; found is false when it has neither a definition
// nor an event.
func (s *Store) Board(ctx context.Context, board string) (Board, bool, error) {
	defs, err := s.definitions(ctx, board)
	if err != nil {
		return Board{}, false, err
	}
	has, err := s.BoardHasEvents(ctx, board)
	if err != nil {
		return Board{}, false, err
	}
	if len(defs) > 0 {
		b := defs[0]
		b.HasEvents = has
		return b, true, nil
	}
	if !has {
		return Board{}, false, nil
	}
	return Board{ID: board, Aggregation: leaderboard.Sum, HasEvents: true}, true, nil
}

// Boards returns every board (defined, or with at least one event), by id.
func (s *Store) Boards(ctx context.Context) ([]Board, error) {
	defs, err := s.definitions(ctx, "")
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT DISTINCT board_id FROM "+s.database+".events ORDER BY board_id")
	if err != nil {
		return nil, fmt.Errorf("clickhouse boards: %w", err)
	}
	defer rows.Close()
	byID := make(map[string]int, len(defs))
	for i, d := range defs {
		byID[d.ID] = i
	}
	out := defs
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse boards: %w", err)
		}
		if i, ok := byID[id]; ok {
			out[i].HasEvents = true
			continue
		}
		out = append(out, Board{ID: id, Aggregation: leaderboard.Sum, HasEvents: true})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse boards: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// PutBoard defines (or renames) a board. Changing the aggregation of a board
// that has accepted events fails with leaderboard.ErrConflict: its windows
// were ranked with the old one. A board without a definition counts as sum.
//
// The check and the write are two statements: an event accepted between
// them is ranked with the new aggregation by both stores from then on
// (a race an operator avoids by defining boards before their first event).
func (s *Store) PutBoard(ctx context.Context, board, name string, agg leaderboard.Aggregation, now time.Time) (Board, error) {
	if _, err := leaderboard.ParseAggregation(string(agg)); err != nil {
		return Board{}, err
	}
	cur, found, err := s.Board(ctx, board)
	if err != nil {
		return Board{}, err
	}
	if found && cur.HasEvents && cur.Aggregation != agg {
		return Board{}, fmt.Errorf("%w: board %s has events ranked with aggregation %s; it cannot change to %s",
			leaderboard.ErrConflict, board, cur.Aggregation, agg)
	}
	at := now.UTC().Truncate(time.Millisecond)
	if cur.Defined && !at.After(cur.UpdatedAt) {
		// ReplacingMergeTree(updated_at) keeps the row with the largest
		// version: never write one that could lose to the current row.
		at = cur.UpdatedAt.Add(time.Millisecond)
	}
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO "+s.database+".boards (board_id, name, aggregation, updated_at) SELECT ?, ?, ?, fromUnixTimestamp64Milli(toInt64(?), 'UTC')",
		board, name, string(agg), at.UnixMilli()); err != nil {
		return Board{}, fmt.Errorf("clickhouse put board %s: %w", board, err)
	}
	return Board{ID: board, Name: name, Aggregation: agg, Defined: true, UpdatedAt: at, HasEvents: cur.HasEvents}, nil
}

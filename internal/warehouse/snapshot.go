package warehouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Reads of the warehouse as of a set of source offsets: what the events of
// the score-event topic below at[partition] make of a board, whatever
// ClickHouse consumed after them. A caller that knows up to which offsets
// another store (the hot cache) applied the topic compares like with like.
//
// An offset map is read as Go reads a map: a partition absent from it has
// offset 0, so with at it contributes nothing (src_offset < 0 holds for no
// row) and with since it contributes from its first offset. Negative offsets
// count as 0 and negative partitions (never in the table) are ignored.
//
// As everywhere else (events.go), the board is filtered inside FINAL and
// every other condition (offsets, windows, instants) outside it, on the
// winning delivery of each identity. For offsets, filtered before FINAL, a
// copy of an identity delivered in another partition, below that
// partition's bound, could stand in for a winner above its own.

// offsetBound is the SQL expression, over src_partition, of m[src_partition]
// (0 for a partition absent from m) as a UInt64. It is built from the map's
// integers only, by partition, so the same map always gives the same text.
func offsetBound(m map[int32]int64) string {
	parts := make([]int32, 0, len(m))
	for p := range m {
		if p >= 0 {
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return "toUInt64(0)"
	}
	slices.Sort(parts)
	var b strings.Builder
	b.WriteString("multiIf(")
	for _, p := range parts {
		fmt.Fprintf(&b, "src_partition = %d, toUInt64(%d), ", p, max(m[p], 0))
	}
	b.WriteString("toUInt64(0))")
	return b.String()
}

// windowFilter is dedupedEvents' window condition on occurred_at ("" for
// the all-time window), with its arguments.
func windowFilter(w leaderboard.Window) (string, []any) {
	if w.Type == leaderboard.AllTime {
		return "", nil
	}
	return " AND occurred_at >= fromUnixTimestamp64Milli(toInt64(?), 'UTC') AND occurred_at < fromUnixTimestamp64Milli(toInt64(?), 'UTC')",
		[]any{w.Start.UnixMilli(), w.End.UnixMilli()}
}

// ceilMilli is t in Unix milliseconds, rounded up: occurred_at (whole
// milliseconds) >= ceilMilli(t) exactly when occurred_at >= t.
func ceilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// snapshotEvents is dedupedEvents as of at: the board's accepted events
// (FINAL) within the window whose winning delivery is below at; with since
// != nil, only those of the players having at least one of them at or above
// since.
func (s *Store) snapshotEvents(board string, w leaderboard.Window, at, since map[int32]int64) (string, []any) {
	final := "(SELECT player_id, score, occurred_at, src_partition, src_offset FROM " + s.database + ".events FINAL WHERE board_id = ?)"
	below := "src_offset < " + offsetBound(at)
	window, windowArgs := windowFilter(w)
	q := "(SELECT player_id, score, occurred_at FROM " + final + " WHERE " + below + window
	args := append([]any{board}, windowArgs...)
	if since != nil {
		q += " AND player_id IN (SELECT player_id FROM " + final + " WHERE " + below +
			" AND src_offset >= " + offsetBound(since) + window + ")"
		args = append(append(args, board), windowArgs...)
	}
	return q + ")", args
}

// standingsAtQuery is standingsQuery over snapshotEvents instead of
// dedupedEvents: the same SQL, so the same totals, clamping and reached_ms
// for sum and max, over the events as of at.
func (s *Store) standingsAtQuery(board string, w leaderboard.Window, agg leaderboard.Aggregation, at, since map[int32]int64) (string, []any, error) {
	q, _ := s.standingsQuery(board, w, agg)
	deduped, _ := s.dedupedEvents(w)
	head, tail, ok := strings.Cut(q, " FROM "+deduped+" ")
	// Every placeholder of standingsQuery is in dedupedEvents, which this
	// replaces whole: the query's arguments are snapshotEvents' alone.
	if !ok || strings.Contains(head+tail, "?") {
		return "", nil, errors.New("standingsQuery no longer reads dedupedEvents once: update standingsAtQuery")
	}
	from, args := s.snapshotEvents(board, w, at, since)
	return head + " FROM " + from + " " + tail, args, nil
}

// StandingsAt streams, in ranking order (rankingOrder), the window's
// standings computed from the board's accepted events (events FINAL) whose
// winning delivery has src_offset < at[src_partition]. With since != nil,
// only the players having at least one such event in the window with
// since[src_partition] <= src_offset are passed, each with its full standing
// as of at. Totals and reached_at follow standingsQuery; a total out of the
// exact range is not an error here: it is passed as computed (a sum clamped
// to ±clampTotal) for the caller to handle. fn's error is returned as is.
func (s *Store) StandingsAt(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, at, since map[int32]int64, fn func(leaderboard.Standing) error) error {
	q, args, err := s.standingsAtQuery(board, w, agg, at, since)
	if err != nil {
		return fmt.Errorf("clickhouse standings at: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT player_id, total, reached_ms FROM ("+q+")"+rankingOrder+noJIT, args...)
	if err != nil {
		return fmt.Errorf("clickhouse standings at: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			st leaderboard.Standing
			ms int64
		)
		if err := rows.Scan(&st.PlayerID, &st.Score, &ms); err != nil {
			return fmt.Errorf("clickhouse standings at: %w", err)
		}
		st.ReachedAt = time.UnixMilli(ms).UTC()
		if err := fn(st); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse standings at: %w", err)
	}
	return nil
}

// Mark is an accepted event's identity and payload fingerprint
// (events.fingerprint, equal to leaderboard.Event.Fingerprint()).
type Mark struct {
	EventID, PlayerID string
	OccurredAt        time.Time
	Fingerprint       string
}

// Marks streams the board's accepted events (winning deliveries, FINAL)
// with occurred_at >= from and src_offset < at[src_partition], by player_id
// then event_id (bytewise). fn's error is returned as is.
func (s *Store) Marks(ctx context.Context, board string, from time.Time, at map[int32]int64, fn func(Mark) error) error {
	rows, err := s.db.QueryContext(ctx,
		"SELECT event_id, player_id, toUnixTimestamp64Milli(occurred_at), fingerprint FROM "+
			"(SELECT event_id, player_id, occurred_at, fingerprint, src_partition, src_offset FROM "+s.database+".events FINAL WHERE board_id = ?) "+
			"WHERE toUnixTimestamp64Milli(occurred_at) >= toInt64(?) AND src_offset < "+offsetBound(at)+
			" ORDER BY player_id, event_id"+noJIT,
		board, ceilMilli(from))
	if err != nil {
		return fmt.Errorf("clickhouse marks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			m  Mark
			ms int64
		)
		if err := rows.Scan(&m.EventID, &m.PlayerID, &ms, &m.Fingerprint); err != nil {
			return fmt.Errorf("clickhouse marks: %w", err)
		}
		m.OccurredAt = time.UnixMilli(ms).UTC()
		if err := fn(m); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse marks: %w", err)
	}
	return nil
}

// LatestOccurredAt returns the latest occurred_at among the board's accepted
// deliveries below at (the zero time when there is none). It reads events
// without FINAL: an unmerged conflicting copy can only make it later, which
// its caller (a rebuild's complete_from) takes as a safe bound.
func (s *Store) LatestOccurredAt(ctx context.Context, board string, at map[int32]int64) (time.Time, error) {
	var ms, n int64
	err := s.db.QueryRowContext(ctx,
		"SELECT toInt64(max(toUnixTimestamp64Milli(occurred_at))), toInt64(count()) FROM "+s.database+".events "+
			"WHERE board_id = ? AND src_offset < "+offsetBound(at)+noJIT, board).Scan(&ms, &n)
	if err != nil {
		return time.Time{}, fmt.Errorf("clickhouse latest occurred_at: %w", err)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	return time.UnixMilli(ms).UTC(), nil
}

// ActiveBoards lists, sorted (bytewise), the boards having an accepted
// event with occurred_at >= since or a definition. It reads events without
// FINAL: an unmerged conflicting copy (never applied) that occurred after
// since may list its board too, a harmless extra; a board whose winning
// delivery occurred after since is never missed.
func (s *Store) ActiveBoards(ctx context.Context, since time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT board_id FROM (SELECT DISTINCT board_id FROM "+s.database+".events WHERE toUnixTimestamp64Milli(occurred_at) >= toInt64(?) "+
			"UNION ALL SELECT DISTINCT board_id FROM "+s.database+".boards) GROUP BY board_id ORDER BY board_id"+noJIT,
		ceilMilli(since))
	if err != nil {
		return nil, fmt.Errorf("clickhouse active boards: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("clickhouse active boards: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse active boards: %w", err)
	}
	return out, nil
}

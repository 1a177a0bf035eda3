package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Reads over the tables of migration 000002 (clickhouse/migrations):
//
//   - events: one row per identity (board, player, event_id) after FINAL, the
//     delivery with the lowest offset (ReplacingMergeTree with ver = 2^64-1 -
//     offset). Every read uses FINAL, so unmerged parts (a redelivery in a
//     later insert block) never count twice.
//   - deliveries: every accepted delivery, one row per source offset; the
//     ones after an identity's first that carry another fingerprint are the
//     conflicts.
//   - rejected_events: every rejected record, one row per source offset.
//   - boards: board definitions; a board without a row is a sum board.
//
// Windows are applied after FINAL, in an outer query: filtering on
// occurred_at before the deduplication could drop the winning delivery of an
// identity and let a later conflicting one (with another occurred_at) through.

// Conflict is a later delivery of an identity that differs from the accepted
// one (the lowest offset) in score, occurred_at or metadata. It is recorded,
// never applied.
type Conflict struct {
	BoardID     string
	PlayerID    string
	EventID     string
	Partition   int32
	Offset      int64
	Score       int64
	OccurredAt  time.Time
	Metadata    string // compacted, "" when absent
	Fingerprint string // leaderboard.Event.Fingerprint of the conflicting delivery
	RecordTime  time.Time

	// The accepted delivery of the identity.
	AcceptedPartition   int32
	AcceptedOffset      int64
	AcceptedFingerprint string
}

// clampTotal is 2^53: a sum total is clamped to ±clampTotal in SQL when it
// may have left Int64, so that |total| > leaderboard.MaxExactTotal says
// "out of range" whatever happened, and leaderboard.CheckTotal catches it.
//
// The sum is summed in Int64, which wraps modulo 2^64 and so is exact
// whenever the true total is within ±2^63; a Float64 sum, off by far less
// than 2^62 for any realistic number of events, tells when it may not be.
// (Not Int128 with greatest/least: ClickHouse 26.7's JIT compiler
// (compile_expressions) miscompiles greatest/least on Int128 once an
// expression has run three times, and returns -2^53 for every total.)
const clampTotal = leaderboard.MaxExactTotal + 1

// noJIT turns off ClickHouse's expression JIT for a read: answers that decide
// payouts do not depend on its code generation (see clampTotal).
const noJIT = " SETTINGS compile_expressions = 0, compile_aggregate_expressions = 0"

// dedupedEvents is the board's accepted events (FINAL) within the window,
// with the board restricted inside FINAL and the window outside it.
func (s *Store) dedupedEvents(w leaderboard.Window) (string, []any) {
	q := "(SELECT player_id, score, occurred_at FROM " + s.database + ".events FINAL WHERE board_id = ?)"
	if w.Type == leaderboard.AllTime {
		return q, nil
	}
	return "(SELECT player_id, score, occurred_at FROM " + q +
			" WHERE occurred_at >= fromUnixTimestamp64Milli(toInt64(?), 'UTC') AND occurred_at < fromUnixTimestamp64Milli(toInt64(?), 'UTC'))",
		[]any{w.Start.UnixMilli(), w.End.UnixMilli()}
}

// standingsQuery groups the window's events per player: player_id, total
// (Int64; for sum, clamped to ±clampTotal when it may have left Int64) and
// reached_ms, per contract section 4.
func (s *Store) standingsQuery(board string, w leaderboard.Window, agg leaderboard.Aggregation) (string, []any) {
	from, windowArgs := s.dedupedEvents(w)
	args := append([]any{board}, windowArgs...)
	var cols string
	switch agg {
	case leaderboard.Max:
		// The best score, and the earliest occurred_at among the events
		// carrying it: the maximum of (score, -occurred_at).
		cols = "toInt64(tupleElement(max((score, -toUnixTimestamp64Milli(occurred_at))), 1)) AS total, " +
			"toInt64(-tupleElement(max((score, -toUnixTimestamp64Milli(occurred_at))), 2)) AS reached_ms"
	default:
		cols = fmt.Sprintf("toInt64(if(abs(sum(toFloat64(score))) > 4e18, if(sum(toFloat64(score)) > 0, toInt64(%d), toInt64(-%d)), sum(score))) AS total, ",
			clampTotal, clampTotal) +
			"toInt64(max(toUnixTimestamp64Milli(occurred_at))) AS reached_ms"
	}
	return "SELECT player_id, " + cols + " FROM " + from + " GROUP BY player_id", args
}

// rankingOrder is contract section 4's order. ClickHouse compares Strings
// bytewise (memcmp), like Go's strings.Compare.
const rankingOrder = " ORDER BY total DESC, reached_ms ASC, player_id ASC"

// Standings returns every ranked player of the window in ranking order. It
// returns an error wrapping leaderboard.ErrTotalOutOfRange when a total
// leaves ±(2^53-1).
func (s *Store) Standings(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation) ([]leaderboard.Standing, error) {
	q, args := s.standingsQuery(board, w, agg)
	rows, err := s.db.QueryContext(ctx, "SELECT player_id, total, reached_ms FROM ("+q+")"+rankingOrder+noJIT, args...)
	if err != nil {
		return nil, fmt.Errorf("clickhouse standings: %w", err)
	}
	defer rows.Close()
	var out []leaderboard.Standing
	for rows.Next() {
		var (
			st leaderboard.Standing
			ms int64
		)
		if err := rows.Scan(&st.PlayerID, &st.Score, &ms); err != nil {
			return nil, fmt.Errorf("clickhouse standings: %w", err)
		}
		if err := leaderboard.CheckTotal(st.Score); err != nil {
			return nil, fmt.Errorf("board %s, window %s, player %q: %w", board, w.Key(), st.PlayerID, err)
		}
		st.ReachedAt = time.UnixMilli(ms).UTC()
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse standings: %w", err)
	}
	return out, nil
}

// StandingsPage returns the entries ranked offset+1 .. offset+limit of the
// window, and the number of ranked players. Like Standings, it fails with
// leaderboard.ErrTotalOutOfRange when any total of the window (not only of
// the page) leaves ±(2^53-1).
func (s *Store) StandingsPage(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation, limit, offset int64) ([]leaderboard.Entry, int64, error) {
	if limit < 0 || offset < 0 {
		return nil, 0, fmt.Errorf("%w: limit and offset must not be negative", leaderboard.ErrInvalidArgument)
	}
	q, args := s.standingsQuery(board, w, agg)
	rows, err := s.db.QueryContext(ctx,
		"SELECT player_id, total, reached_ms, toInt64(count() OVER ()) AS players, toInt64(max(abs(total)) OVER ()) AS worst FROM ("+q+")"+
			rankingOrder+" LIMIT ? OFFSET ?"+noJIT, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("clickhouse standings: %w", err)
	}
	defer rows.Close()
	var (
		out            []leaderboard.Entry
		players, worst int64
		got            bool
	)
	for rows.Next() {
		var (
			st leaderboard.Standing
			ms int64
		)
		if err := rows.Scan(&st.PlayerID, &st.Score, &ms, &players, &worst); err != nil {
			return nil, 0, fmt.Errorf("clickhouse standings: %w", err)
		}
		got = true
		st.ReachedAt = time.UnixMilli(ms).UTC()
		out = append(out, leaderboard.Entry{Rank: offset + int64(len(out)) + 1, Standing: st})
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("clickhouse standings: %w", err)
	}
	return s.page(ctx, board, w, agg, out, players, worst, got)
}

// page finishes a page read: with no row the window's player count comes
// from Count (past the last entry, or an empty window); a window whose
// largest |total| leaves the exact range is an error, never a rounded page.
func (s *Store) page(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation,
	out []leaderboard.Entry, players, worst int64, got bool) ([]leaderboard.Entry, int64, error) {
	if !got {
		players, err := s.Count(ctx, board, w, agg)
		if err != nil {
			return nil, 0, err
		}
		return nil, players, nil
	}
	if err := leaderboard.CheckTotal(worst); err != nil {
		return nil, 0, fmt.Errorf("board %s, window %s: %w", board, w.Key(), err)
	}
	return out, players, nil
}

// Count returns the number of ranked players of the window (every player
// with at least one accepted event in it), or an error wrapping
// leaderboard.ErrTotalOutOfRange when a total leaves ±(2^53-1).
func (s *Store) Count(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation) (int64, error) {
	q, args := s.standingsQuery(board, w, agg)
	var players, worst int64
	err := s.db.QueryRowContext(ctx, "SELECT toInt64(count()), toInt64(max(abs(total))) FROM ("+q+")"+noJIT, args...).Scan(&players, &worst)
	if err != nil {
		return 0, fmt.Errorf("clickhouse count: %w", err)
	}
	if err := leaderboard.CheckTotal(worst); err != nil {
		return 0, fmt.Errorf("board %s, window %s: %w", board, w.Key(), err)
	}
	return players, nil
}

// BoardAggregation returns the board's defined aggregation; ok is false
// (and the aggregation sum) when the board has no definition.
func (s *Store) BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT toString(aggregation) FROM "+s.database+".boards FINAL WHERE board_id = ?", board)
	if err != nil {
		return "", false, fmt.Errorf("clickhouse board %s: %w", board, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", false, fmt.Errorf("clickhouse board %s: %w", board, err)
		}
		return leaderboard.Sum, false, nil
	}
	var name string
	if err := rows.Scan(&name); err != nil {
		return "", false, fmt.Errorf("clickhouse board %s: %w", board, err)
	}
	agg, err := leaderboard.ParseAggregation(name)
	if err != nil {
		return "", false, fmt.Errorf("clickhouse board %s: stored %w", board, err)
	}
	return agg, true, nil
}

// conflictRows lists the deliveries that differ from their identity's
// accepted delivery: the first by (offset, partition), as in events FINAL.
func (s *Store) conflictRows(where string) string {
	return "SELECT board_id, player_id, event_id, src_partition, src_offset, score, occurred_at, metadata, fingerprint, record_ts, " +
		"winner.1 AS w_partition, winner.2 AS w_offset, winner.3 AS w_fingerprint FROM (" +
		"SELECT *, argMin((src_partition, src_offset, fingerprint), (src_offset, src_partition)) " +
		"OVER (PARTITION BY board_id, player_id, event_id) AS winner " +
		"FROM " + s.database + ".deliveries FINAL WHERE " + where + ") WHERE fingerprint != winner.3"
}

// Conflicts returns the conflicting deliveries recorded for a player's
// events on a board, by event_id and offset.
func (s *Store) Conflicts(ctx context.Context, board, player string) ([]Conflict, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT board_id, player_id, event_id, toInt32(src_partition), toInt64(src_offset), score, "+
			"toUnixTimestamp64Milli(occurred_at), metadata, fingerprint, toUnixTimestamp64Milli(record_ts), "+
			"toInt32(w_partition), toInt64(w_offset), w_fingerprint FROM ("+
			s.conflictRows("board_id = ? AND player_id = ?")+") ORDER BY event_id, src_offset, src_partition"+noJIT,
		board, player)
	if err != nil {
		return nil, fmt.Errorf("clickhouse conflicts: %w", err)
	}
	defer rows.Close()
	var out []Conflict
	for rows.Next() {
		var (
			c        Conflict
			occ, rts int64
		)
		if err := rows.Scan(&c.BoardID, &c.PlayerID, &c.EventID, &c.Partition, &c.Offset, &c.Score,
			&occ, &c.Metadata, &c.Fingerprint, &rts,
			&c.AcceptedPartition, &c.AcceptedOffset, &c.AcceptedFingerprint); err != nil {
			return nil, fmt.Errorf("clickhouse conflicts: %w", err)
		}
		c.OccurredAt = time.UnixMilli(occ).UTC()
		c.RecordTime = time.UnixMilli(rts).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("clickhouse conflicts: %w", err)
	}
	return out, nil
}

// ConflictCount returns the number of conflicting deliveries recorded on a board.
func (s *Store) ConflictCount(ctx context.Context, board string) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, "SELECT toInt64(count()) FROM ("+s.conflictRows("board_id = ?")+")"+noJIT, board).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("clickhouse conflict count: %w", err)
	}
	return n, nil
}

// Rejected returns the reason code ClickHouse recorded for the record at
// (partition, offset); found is false when that record was not rejected (or
// not consumed yet).
func (s *Store) Rejected(ctx context.Context, partition int32, offset int64) (reason string, found bool, err error) {
	if partition < 0 || offset < 0 {
		return "", false, nil
	}
	err = s.db.QueryRowContext(ctx,
		"SELECT toString(reason) FROM "+s.database+".rejected_events FINAL WHERE src_partition = ? AND src_offset = ? LIMIT 1",
		partition, offset).Scan(&reason)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("clickhouse rejected record %d/%d: %w", partition, offset, err)
	}
	return reason, true, nil
}

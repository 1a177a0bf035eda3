package hotboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// WatermarkMismatchError is returned by Replace when the hot store has
// already applied records of the board that the standings do not contain
// (a hot watermark above the snapshot's). It wraps leaderboard.ErrConflict;
// Hot holds the board's current watermarks.
type WatermarkMismatchError struct {
	Board string
	Hot   map[int32]int64
}

func (e *WatermarkMismatchError) Error() string {
	return fmt.Sprintf("hotboard: board %s: hot watermarks %v are ahead of the snapshot's", e.Board, e.Hot)
}

// Unwrap makes the error match leaderboard.ErrConflict.
func (e *WatermarkMismatchError) Unwrap() error { return leaderboard.ErrConflict }

// Replace installs a window's complete board, computed elsewhere (a rebuild
// from ClickHouse), atomically: it is NewBuild, one Put of every standing,
// and Commit. See Build.Commit for the watermark rules.
func (s *Store) Replace(ctx context.Context, board string, w leaderboard.Window, standings []leaderboard.Standing, watermarks map[int32]int64) error {
	seen := make(map[string]struct{}, len(standings))
	for _, st := range standings {
		if _, dup := seen[st.PlayerID]; dup {
			return fmt.Errorf("%w: hotboard: player %q twice", leaderboard.ErrInvalidArgument, st.PlayerID)
		}
		seen[st.PlayerID] = struct{}{}
	}
	b, err := s.NewBuild(ctx, board, w, "")
	if err != nil {
		return err
	}
	if err := b.Put(ctx, standings); err != nil {
		b.Abort(ctx)
		return err
	}
	return b.Commit(ctx, watermarks, CommitOptions{})
}

// Build is a window's board being built in temporary keys (several round
// trips, each bounded) and swapped in by Commit in one atomic step, so
// readers see the old board or the new one, never a mix. A build left
// behind expires after an hour.
type Build struct {
	s     *Store
	board string
	w     leaderboard.Window
	agg   leaderboard.Aggregation
	tmp   string
	// players is the committed board's size.
	players int64
}

// Players is the number of ranked players the build installed (after a
// successful Commit).
func (b *Build) Players() int64 { return b.players }

// NewBuild starts a build of a hot window. agg is the aggregation the
// standings were computed with ("" for Replace: the board's own); Commit
// refuses a board whose hot state has another one. It writes the build's
// marker key first: Commit refuses a build whose marker is gone, for Valkey
// lost its data since, and with it part of the build and whatever the
// caller wrote meanwhile (seeded identity marks).
func (s *Store) NewBuild(ctx context.Context, board string, w leaderboard.Window, agg leaderboard.Aggregation) (*Build, error) {
	if err := checkBoard(board); err != nil {
		return nil, err
	}
	if err := checkWindow(w); err != nil {
		return nil, err
	}
	if !w.IsHot(s.now()) {
		return nil, fmt.Errorf("%w: hotboard: window %s is not hot", leaderboard.ErrInvalidArgument, w.Key())
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	b := &Build{s: s, board: board, w: w, agg: agg, tmp: s.base(board) + "tmp:" + hex.EncodeToString(id[:]) + ":"}
	err := s.c.Do(ctx, s.c.B().Set().Key(b.tmp+"begun").Value("1").Px(replaceBuildTTL).Build()).Error()
	if err != nil {
		return nil, s.wrap("build", err)
	}
	return b, nil
}

// Put writes standings into the build, replacing the standing of a player
// already in it (the second phase of a rebuild brings the players whose
// standing changed meanwhile). Totals beyond +-(2^53-1) are accepted and
// make the window answer ErrTotalOutOfRange, like Apply.
func (b *Build) Put(ctx context.Context, standings []leaderboard.Standing) error {
	rows := make([]string, 0, 3*min(len(standings), replaceChunk))
	ttl := strconv.FormatInt(replaceBuildTTL.Milliseconds(), 10)
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		args := append([]string{b.tmp, ttl}, rows...)
		rows = rows[:0]
		return b.s.wrap("build", buildPutScript.Exec(ctx, b.s.c, []string{b.tmp + "z"}, args).Error())
	}
	for _, st := range standings {
		if st.PlayerID == "" {
			return fmt.Errorf("%w: hotboard: empty player_id", leaderboard.ErrInvalidArgument)
		}
		ms, err := encodeMs(st.ReachedAt)
		if err != nil {
			return err
		}
		rows = append(rows, st.PlayerID, strconv.FormatInt(st.Score, 10), ms)
		if len(rows) == 3*replaceChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// Abort drops the build's temporary keys (best effort; they expire anyway).
func (b *Build) Abort(ctx context.Context) {
	_ = b.s.c.Do(context.WithoutCancel(ctx), b.s.c.B().Del().Key(b.tmp+"z", b.tmp+"t", b.tmp+"r", b.tmp+"c", b.tmp+"begun").Build()).Error()
}

// CommitOptions tune Commit.
type CommitOptions struct {
	// CompleteFrom, when set, records on the board (if not recorded yet)
	// that the hot store holds every event of windows starting at or after
	// it: the caller seeded the board's identity marks from the same
	// snapshot and the consumer applies every later record. Apply then
	// creates such windows even while creation is off (after a data loss).
	CompleteFrom time.Time
}

// Commit swaps the build in. watermarks are the positions the standings
// were computed at: for every partition p, they contain exactly the board's
// records with offsets below watermarks[p] (absent = 0). The caller
// guarantees that the service's consumer has handled every record below
// those positions (they are at most its consumed offsets), and ClickHouse
// has consumed them too. Commit then checks, atomically with the swap, that
// the hot store has applied none of the board's records at or above them
// (hot watermark <= snapshot's for every partition; else
// *WatermarkMismatchError, wrapping leaderboard.ErrConflict, and nothing
// changes), and raises the board's watermarks to the snapshot's, so records
// the build contains are never applied again. This also covers a Valkey
// that lost its data: the board's watermarks are then absent or low, and
// the rebuild brings in the records consumed before the loss. Dedup marks
// are not touched here (see Store.SeedMarks). The build is consumed either
// way.
func (b *Build) Commit(ctx context.Context, watermarks map[int32]int64, opts CommitOptions) error {
	s := b.s
	parts := make([]int32, 0, len(watermarks))
	for p, o := range watermarks {
		if p < 0 || o < 0 || o >= maxMs {
			b.Abort(ctx)
			return fmt.Errorf("%w: hotboard: bad watermark %d=%d", leaderboard.ErrInvalidArgument, p, o)
		}
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
	now := s.now()
	if !b.w.IsHot(now) {
		b.Abort(ctx)
		return fmt.Errorf("%w: hotboard: window %s is not hot", leaderboard.ErrInvalidArgument, b.w.Key())
	}
	agg := string(b.agg)
	if agg == "" {
		cur, ok, err := s.BoardAggregation(ctx, b.board)
		if err != nil {
			b.Abort(ctx)
			return err
		}
		agg = string(leaderboard.Sum)
		if ok {
			agg = string(cur)
		}
	}
	exp := "0"
	if hu := b.w.HotUntil(); !hu.IsZero() {
		exp = strconv.FormatInt(hu.UnixMilli(), 10)
	}
	cfrom := ""
	if !opts.CompleteFrom.IsZero() {
		cfrom = strconv.FormatInt(opts.CompleteFrom.UnixMilli(), 10)
	}
	base := s.base(b.board)
	args := []string{base, b.w.Key(), b.tmp, agg, strconv.FormatInt(now.UnixMilli(), 10), exp, cfrom}
	for _, p := range parts {
		args = append(args, strconv.FormatInt(int64(p), 10), strconv.FormatInt(watermarks[p], 10))
	}
	res, err := buildSwapScript.Exec(ctx, s.c, []string{base + "wm"}, args).ToArray()
	if err != nil {
		b.Abort(ctx)
		return s.wrap("replace swap", err)
	}
	status, _ := res[0].ToString()
	switch status {
	case "ok":
		if len(res) > 1 {
			b.players, _ = res[1].AsInt64()
		}
		return nil
	case "agg":
		cur, _ := res[1].ToString()
		return fmt.Errorf("%w: hotboard: board %s has aggregation %s in the hot store, the build %s", leaderboard.ErrConflict, b.board, cur, agg)
	case "wm":
		hot, err := flatMap(res[1])
		if err != nil {
			return err
		}
		e := &WatermarkMismatchError{Board: b.board, Hot: map[int32]int64{}}
		for p, v := range hot {
			pi, _ := strconv.ParseInt(p, 10, 32)
			vi, _ := strconv.ParseInt(v, 10, 64)
			e.Hot[int32(pi)] = vi
		}
		return e
	case "lost":
		return fmt.Errorf("%w: hotboard: Valkey lost its data during the build of %s/%s", leaderboard.ErrUnavailable, b.board, b.w.Key())
	case "incomplete":
		return fmt.Errorf("%w: hotboard: replace: the build of %s/%s expired or was altered", leaderboard.ErrUnavailable, b.board, b.w.Key())
	}
	return fmt.Errorf("hotboard: replace: unexpected status %q", status)
}

package hotboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"

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
// from ClickHouse), atomically: the standings are written into temporary
// keys (several round trips, each bounded), then one script checks the
// build and swaps it in with RENAME, so readers see either the old board or
// the new one, never a half-built one.
//
// watermarks are the positions the standings were computed at: for every
// partition p, they contain exactly the board's records with offsets below
// watermarks[p] (absent = 0). The caller guarantees that the service's
// consumer has handled every record below those positions (they are at most
// its consumed offsets), and ClickHouse has consumed them too. Replace then
// checks, atomically with the swap, that the hot store has applied none of
// the board's records at or above them (hot watermark <= snapshot's for
// every partition; else *WatermarkMismatchError, wrapping
// leaderboard.ErrConflict, and nothing changes: recompute at the new
// positions, or pause the consumer for the last step), and raises the
// board's watermarks to the snapshot's, so records the build contains are
// never applied again. This also covers a Valkey that lost its data: the
// board's watermarks are then absent or low, and the rebuild brings in the
// records consumed before the loss. Dedup marks are not touched (after a
// data loss the marks of earlier events are gone; see docs/hot-store.md).
//
// The window must be hot at the store's clock. Totals beyond +-(2^53-1) are
// accepted and make the window answer ErrTotalOutOfRange, like Apply.
func (s *Store) Replace(ctx context.Context, board string, w leaderboard.Window, standings []leaderboard.Standing, watermarks map[int32]int64) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	if err := checkWindow(w); err != nil {
		return err
	}
	now := s.now()
	if !w.IsHot(now) {
		return fmt.Errorf("%w: hotboard: window %s is not hot", leaderboard.ErrInvalidArgument, w.Key())
	}
	seen := make(map[string]struct{}, len(standings))
	rows := make([]string, 0, 3*len(standings))
	oor := 0
	for _, st := range standings {
		if st.PlayerID == "" {
			return fmt.Errorf("%w: hotboard: empty player_id", leaderboard.ErrInvalidArgument)
		}
		if _, dup := seen[st.PlayerID]; dup {
			return fmt.Errorf("%w: hotboard: player %q twice", leaderboard.ErrInvalidArgument, st.PlayerID)
		}
		seen[st.PlayerID] = struct{}{}
		ms, err := encodeMs(st.ReachedAt)
		if err != nil {
			return err
		}
		if !inRange(st.Score) {
			oor++
		}
		rows = append(rows, st.PlayerID, strconv.FormatInt(st.Score, 10), ms)
	}
	parts := make([]int32, 0, len(watermarks))
	for p, o := range watermarks {
		if p < 0 || o < 0 || o >= maxMs {
			return fmt.Errorf("%w: hotboard: bad watermark %d=%d", leaderboard.ErrInvalidArgument, p, o)
		}
		parts = append(parts, p)
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })

	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	base := s.base(board)
	tmp := base + "tmp:" + hex.EncodeToString(id[:]) + ":"
	drop := func() {
		// best effort; the keys expire anyway
		_ = s.c.Do(context.WithoutCancel(ctx), s.c.B().Del().Key(tmp+"z", tmp+"t", tmp+"r").Build()).Error()
	}
	ttl := strconv.FormatInt(replaceBuildTTL.Milliseconds(), 10)
	for i := 0; i < len(rows); i += 3 * replaceChunk {
		j := min(i+3*replaceChunk, len(rows))
		args := append([]string{tmp, ttl}, rows[i:j]...)
		if err := replaceChunkScript.Exec(ctx, s.c, []string{tmp + "z"}, args).Error(); err != nil {
			drop()
			return s.wrap("replace build", err)
		}
	}
	exp := "0"
	if hu := w.HotUntil(); !hu.IsZero() {
		exp = strconv.FormatInt(hu.UnixMilli(), 10)
	}
	args := []string{base, w.Key(), tmp, strconv.Itoa(len(standings)), strconv.Itoa(oor),
		strconv.FormatInt(now.UnixMilli(), 10), exp}
	for _, p := range parts {
		args = append(args, strconv.FormatInt(int64(p), 10), strconv.FormatInt(watermarks[p], 10))
	}
	res, err := replaceSwapScript.Exec(ctx, s.c, []string{base + "wm"}, args).ToArray()
	if err != nil {
		drop()
		return s.wrap("replace swap", err)
	}
	status, _ := res[0].ToString()
	switch status {
	case "ok":
		return nil
	case "wm":
		hot, err := flatMap(res[1])
		if err != nil {
			return err
		}
		e := &WatermarkMismatchError{Board: board, Hot: map[int32]int64{}}
		for p, v := range hot {
			pi, _ := strconv.ParseInt(p, 10, 32)
			vi, _ := strconv.ParseInt(v, 10, 64)
			e.Hot[int32(pi)] = vi
		}
		return e
	case "incomplete":
		return fmt.Errorf("%w: hotboard: replace: the build of %s/%s expired or was altered", leaderboard.ErrUnavailable, board, w.Key())
	}
	return fmt.Errorf("hotboard: replace: unexpected status %q", status)
}

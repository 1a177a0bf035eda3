package hotboard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// snapshotTTL bounds how long an abandoned snapshot's copies live.
const snapshotTTL = 10 * time.Minute

// Snapshot is a copy of a window's hot board taken in one atomic step with
// the board's watermarks, read at leisure (a reconciliation compares it
// with ClickHouse at the same positions while the consumer goes on).
type Snapshot struct {
	s  *Store
	sb string
	// Watermarks are the board's positions when the copy was taken: the
	// copy holds exactly what the hot store applied of the board's records
	// below them.
	Watermarks map[int32]int64
	// OutOfRange: a total of the window leaves +-(2^53-1) (or overflowed).
	OutOfRange bool
	// NeedsRebuild: the board holds an event the hot store could not apply
	// exactly (BoardStatus.NeedsRebuild).
	NeedsRebuild bool
}

// Snapshot copies the window's hot board (error wrapping
// leaderboard.ErrNotCached when it does not exist). Close it when done.
func (s *Store) Snapshot(ctx context.Context, board string, w leaderboard.Window) (*Snapshot, error) {
	if err := checkBoard(board); err != nil {
		return nil, err
	}
	if err := checkWindow(w); err != nil {
		return nil, err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	base := s.base(board)
	sb := base + "snap:" + hex.EncodeToString(id[:]) + ":"
	res, err := snapshotScript.Exec(ctx, s.c, []string{base + "wm"},
		[]string{base, w.Key(), sb, strconv.FormatInt(snapshotTTL.Milliseconds(), 10)}).ToArray()
	if err != nil {
		return nil, s.wrap("snapshot", err)
	}
	switch status, _ := res[0].ToString(); status {
	case "missing":
		return nil, fmt.Errorf("%w: board %s window %s is not in the hot store", leaderboard.ErrNotCached, board, w.Key())
	case "inconsistent":
		return nil, fmt.Errorf("board %s window %s: %w", board, w.Key(), ErrInconsistent)
	}
	if len(res) != 5 {
		return nil, fmt.Errorf("hotboard: snapshot: malformed reply")
	}
	wm, err := flatMap(res[1])
	if err != nil {
		return nil, err
	}
	snap := &Snapshot{s: s, sb: sb, Watermarks: make(map[int32]int64, len(wm))}
	for p, v := range wm {
		pi, err1 := strconv.ParseInt(p, 10, 32)
		vi, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("hotboard: malformed watermark %q=%q", p, v)
		}
		snap.Watermarks[int32(pi)] = vi
	}
	oor, _ := res[2].ToString()
	overflow, _ := res[3].ToString()
	nr, _ := res[4].ToString()
	snap.OutOfRange = (oor != "" && oor != "0") || overflow == "1"
	snap.NeedsRebuild = nr == "1"
	return snap, nil
}

// Each calls fn with every entry of the copy in rank order, reading pages
// of at most MaxPage entries.
func (sn *Snapshot) Each(ctx context.Context, fn func(leaderboard.Entry) error) error {
	for from := int64(0); ; {
		res, err := snapshotPageScript.Exec(ctx, sn.s.c, []string{sn.sb + "z"},
			[]string{sn.sb, strconv.FormatInt(from, 10), strconv.Itoa(MaxPage)}).ToArray()
		if err != nil {
			return sn.s.wrap("snapshot read", err)
		}
		p, err := pageOf(res)
		if err != nil {
			return err
		}
		for _, e := range p.Entries {
			if err := fn(e); err != nil {
				return err
			}
		}
		from += int64(len(p.Entries))
		if len(p.Entries) == 0 || from >= p.Total {
			return nil
		}
	}
}

// Close drops the copy (best effort; it expires anyway).
func (sn *Snapshot) Close(ctx context.Context) {
	_ = sn.s.c.Do(context.WithoutCancel(ctx), sn.s.c.B().Del().Key(sn.sb+"z", sn.sb+"t").Build()).Error()
}

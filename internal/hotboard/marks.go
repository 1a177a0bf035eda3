package hotboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Mark is an accepted event's identity with the fingerprint of its accepted
// payload (leaderboard.Event.Fingerprint form), as ClickHouse keeps it.
type Mark struct {
	EventID, PlayerID string
	OccurredAt        time.Time
	Fingerprint       string
}

// SeedMarks writes identity marks of accepted events taken from ClickHouse
// (the winning delivery of each identity), so that a later copy of one of
// those events is recognised as a duplicate or a conflict even after Valkey
// lost the marks the consumer had written. A seeded mark replaces the mark
// of the same identity: ClickHouse's lowest offset is the truth. Marks of
// events already stale (Apply would not apply them anyway) are skipped.
// now is the clock deciding staleness (zero: the store's).
func (s *Store) SeedMarks(ctx context.Context, board string, marks []Mark, now time.Time) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	if now.IsZero() {
		now = s.now()
	}
	base := s.base(board)
	args := make([]string, 0, 1+4*min(len(marks), replaceChunk))
	args = append(args, base)
	flush := func() error {
		if len(args) == 1 {
			return nil
		}
		err := seedMarksScript.Exec(ctx, s.c, []string{base + "md"}, args).Error()
		args = args[:1]
		return s.wrap("seed marks", err)
	}
	for _, m := range marks {
		day := leaderboard.DailyWindow(m.OccurredAt.UTC())
		exp := day.End.Add(s.horizon)
		if !now.Add(StaleMargin).Before(exp) {
			continue
		}
		sum := sha256.Sum256([]byte(m.Fingerprint))
		args = append(args, day.Start.Format("20060102"), strconv.FormatInt(exp.UnixMilli(), 10),
			m.EventID+" "+m.PlayerID, hex.EncodeToString(sum[:16]))
		if len(args) >= 1+4*replaceChunk {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

package hotboard

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Item is one consumed record of the score-event topic, with its Kafka
// position.
type Item struct {
	Partition int32
	Offset    int64
	Event     leaderboard.Event
}

// OutcomeKind says what Apply did with an item.
type OutcomeKind string

// Outcome kinds.
const (
	// OutcomeApplied: the event was new; see Outcome.Windows for what
	// happened to each of its windows.
	OutcomeApplied OutcomeKind = "applied"
	// OutcomeRedelivered: the offset is below the board's watermark for the
	// partition: this record was already handled; nothing changed.
	OutcomeRedelivered OutcomeKind = "redelivered"
	// OutcomeDuplicate: the identity was already applied with the same
	// payload (another record); nothing changed.
	OutcomeDuplicate OutcomeKind = "duplicate"
	// OutcomeConflict: the identity was already applied with another
	// payload; the earlier record wins. Counted and recorded, never applied.
	OutcomeConflict OutcomeKind = "conflict"
	// OutcomeStale: the event is older than the dedup horizon, so a
	// duplicate of it could no longer be recognised: not applied, and the
	// board is flagged as needing a rebuild (BoardStatus.NeedsRebuild).
	OutcomeStale OutcomeKind = "stale"
)

// WindowResult says what an applied event did to one of its windows.
type WindowResult string

// Window results.
const (
	// WindowApplied: the window's hot board existed and was updated.
	WindowApplied WindowResult = "applied"
	// WindowCreated: the window's hot board was created with this event.
	WindowCreated WindowResult = "created"
	// WindowSkipped: the window's hot board does not exist and was not
	// created (the window is not hot at now, or creation is not allowed).
	// The window must be answered from ClickHouse (or rebuilt).
	WindowSkipped WindowResult = "skipped"
)

// WindowOutcome is the result for one window of an applied event.
type WindowOutcome struct {
	Window leaderboard.Window
	Result WindowResult
}

// Outcome is what Apply did with one item.
type Outcome struct {
	Kind OutcomeKind
	// Windows is set for OutcomeApplied: daily, weekly, all-time.
	Windows [3]WindowOutcome
}

// itemArgs is the number of ARGV fields per item in applyScript.
const (
	itemArgs    = 23
	itemArgsStr = "23"
)

// Apply applies a batch of consumed records of one board in one atomic
// server-side step (one script). Items must be in consumption order; within
// one call the offsets of a partition must increase. For each item, in order:
//
//   - Offset below the board's watermark of its partition: OutcomeRedelivered.
//   - Identity (player, event_id) already marked: OutcomeDuplicate when the
//     fingerprint of the payload matches, else OutcomeConflict (counted, the
//     earlier record wins).
//   - occurred_at older than the dedup horizon: OutcomeStale (not applied,
//     board flagged for rebuild).
//   - Else the event is folded into its daily, weekly and all-time windows
//     (those whose hot board exists; a missing one is created only when it
//     is hot at now and creation is allowed, else skipped), and its identity
//     is marked.
//
// Every item that is not a redelivery advances the partition's watermark to
// Offset+1. Watermarks are per board: records that have no valid board
// (invalid records) are tracked by the consumer's Kafka commits only.
//
// now is the service's clock (the zero time means the store's clock): it
// decides which windows are hot and which events are stale.
//
// A batch is rejected as a whole (nothing applied) when an item is invalid
// (leaderboard.ErrInvalidArgument) or agg differs from the aggregation the
// board was first applied with (leaderboard.ErrConflict).
func (s *Store) Apply(ctx context.Context, board string, agg leaderboard.Aggregation, items []Item, now time.Time) ([]Outcome, error) {
	if err := checkBoard(board); err != nil {
		return nil, err
	}
	if agg != leaderboard.Sum && agg != leaderboard.Max {
		return nil, fmt.Errorf("%w: hotboard: unknown aggregation %q", leaderboard.ErrInvalidArgument, agg)
	}
	if len(items) == 0 {
		return nil, nil
	}
	if now.IsZero() {
		now = s.now()
	}
	createMissing := s.createMissing.Load()
	nowMs := now.UnixMilli()
	args := make([]string, 0, 6+len(items)*itemArgs)
	base := s.base(board)
	args = append(args, base, string(agg), strconv.FormatInt(nowMs, 10),
		strconv.FormatInt(now.Add(-24*time.Hour).UnixMilli(), 10),
		strconv.Itoa(len(items)), strconv.Itoa(s.conflictCap))
	windows := make([][3]leaderboard.Window, len(items))
	lastOffset := map[int32]int64{}
	for i, it := range items {
		if err := checkItem(board, it); err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		if last, ok := lastOffset[it.Partition]; ok && it.Offset <= last {
			return nil, fmt.Errorf("%w: hotboard: item %d: offset %d of partition %d does not follow %d",
				leaderboard.ErrInvalidArgument, i, it.Offset, it.Partition, last)
		}
		lastOffset[it.Partition] = it.Offset
		ev := it.Event
		occ := ev.OccurredAt.UTC()
		occ16, err := encodeMs(occ)
		if err != nil {
			return nil, fmt.Errorf("item %d: %w", i, err)
		}
		day := leaderboard.DailyWindow(occ)
		markExp := day.End.Add(s.horizon)
		stale := "0"
		if !now.Add(StaleMargin).Before(markExp) {
			stale = "1"
		}
		args = append(args,
			strconv.FormatInt(int64(it.Partition), 10),
			strconv.FormatInt(it.Offset, 10),
			strconv.FormatInt(it.Offset+1, 10),
			ev.EventID+" "+ev.PlayerID,
			Fingerprint(ev),
			day.Start.Format("20060102"),
			strconv.FormatInt(markExp.UnixMilli(), 10),
			stale,
			ev.PlayerID,
			strconv.FormatInt(ev.Score, 10),
			occ16,
		)
		windows[i] = leaderboard.StandardWindows(occ)
		for _, w := range windows[i] {
			// 1: create when missing; 2: only on a board whose rebuild
			// made it complete from before the window's start
			create := "0"
			switch {
			case !w.IsHot(now):
			case createMissing:
				create = "1"
			default:
				create = "2"
			}
			exp := "0"
			if hu := w.HotUntil(); !hu.IsZero() {
				exp = strconv.FormatInt(hu.UnixMilli(), 10)
			}
			args = append(args, w.Key(), create, exp, strconv.FormatInt(w.Start.UnixMilli(), 10))
		}
	}
	if len(args) != 6+len(items)*itemArgs {
		return nil, fmt.Errorf("hotboard: internal error: %d script arguments", len(args))
	}
	res, err := applyScript.Exec(ctx, s.c, []string{base + "wm"}, args).ToArray()
	if err != nil {
		return nil, s.wrap("apply", err)
	}
	status, err := res[0].ToString()
	if err != nil {
		return nil, fmt.Errorf("hotboard: apply: %w", err)
	}
	if status == "agg" {
		cur, _ := res[1].ToString()
		return nil, fmt.Errorf("%w: hotboard: board %s has aggregation %s, not %s", leaderboard.ErrConflict, board, cur, agg)
	}
	codes, err := res[1].AsStrSlice()
	if err != nil || status != "ok" || len(codes) != len(items) {
		return nil, fmt.Errorf("hotboard: apply: unexpected reply (%s, %d codes, %v)", status, len(codes), err)
	}
	out := make([]Outcome, len(items))
	for i, code := range codes {
		switch {
		case code == "R":
			out[i].Kind = OutcomeRedelivered
		case code == "D":
			out[i].Kind = OutcomeDuplicate
		case code == "C":
			out[i].Kind = OutcomeConflict
		case code == "S":
			out[i].Kind = OutcomeStale
		case len(code) == 4 && code[0] == 'A':
			out[i].Kind = OutcomeApplied
			for j := range 3 {
				r := WindowApplied
				switch code[1+j] {
				case 'c':
					r = WindowCreated
				case 's':
					r = WindowSkipped
				}
				out[i].Windows[j] = WindowOutcome{Window: windows[i][j], Result: r}
			}
		default:
			return nil, fmt.Errorf("hotboard: apply: unexpected outcome %q", code)
		}
	}
	return out, nil
}

func checkItem(board string, it Item) error {
	ev := it.Event
	if ev.BoardID != board {
		return fmt.Errorf("%w: hotboard: event of board %q in a batch of board %q", leaderboard.ErrInvalidArgument, ev.BoardID, board)
	}
	if it.Partition < 0 || it.Offset < 0 || it.Offset >= maxMs {
		return fmt.Errorf("%w: hotboard: bad position %d/%d", leaderboard.ErrInvalidArgument, it.Partition, it.Offset)
	}
	if len(ev.EventID) == 0 || len(ev.EventID) > 128 {
		return fmt.Errorf("%w: hotboard: bad event_id length", leaderboard.ErrInvalidArgument)
	}
	for i := 0; i < len(ev.EventID); i++ {
		if c := ev.EventID[i]; c < 0x21 || c > 0x7e {
			return fmt.Errorf("%w: hotboard: bad event_id %q", leaderboard.ErrInvalidArgument, ev.EventID)
		}
	}
	if !leaderboard.ValidPlayerID(ev.PlayerID) {
		return fmt.Errorf("%w: hotboard: invalid player_id %q", leaderboard.ErrInvalidArgument, ev.PlayerID)
	}
	if ev.Score > leaderboard.MaxEventScore || ev.Score < -leaderboard.MaxEventScore {
		return fmt.Errorf("%w: hotboard: score %d out of range", leaderboard.ErrInvalidArgument, ev.Score)
	}
	return nil
}

// Fingerprint is the digest the store keeps in an identity's mark: hex of
// the first 16 bytes of the SHA-256 of leaderboard.Event.Fingerprint (the
// shared definition of "same payload": score, occurred_at in milliseconds,
// compacted metadata). Two records with the same identity are duplicates
// when their digests are equal, else a conflict. A digest keeps marks small
// whatever the metadata.
func Fingerprint(ev leaderboard.Event) string {
	sum := sha256.Sum256([]byte(ev.Fingerprint()))
	return hex.EncodeToString(sum[:16])
}

package hotboard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/leaderboard"
)

// Page is a slice of a window's ranking together with the window's player
// count, read in one consistent step.
type Page struct {
	Total   int64 // every ranked player of the window
	Entries []leaderboard.Entry
}

// AroundResult is a player's entry with its neighbours, read in one
// consistent step.
type AroundResult struct {
	Total int64
	Found bool
	Me    leaderboard.Entry
	Above []leaderboard.Entry // best first
	Below []leaderboard.Entry // best first
}

// Reads run one read-only script each (EVALSHA_RO), so every answer is one
// consistent snapshot even while Apply or Replace run. A window whose hot
// board does not exist answers an error wrapping leaderboard.ErrNotCached;
// one with a total out of +-(2^53-1) an error wrapping
// leaderboard.ErrTotalOutOfRange.

// Exists reports whether the window's hot board is present (and complete:
// boards are only ever created whole).
func (s *Store) Exists(ctx context.Context, board string, w leaderboard.Window) (bool, error) {
	if err := checkBoard(board); err != nil {
		return false, err
	}
	if err := checkWindow(w); err != nil {
		return false, err
	}
	n, err := s.c.Do(ctx, s.c.B().Exists().Key(s.base(board)+"m:"+w.Key()).Build()).AsInt64()
	if err != nil {
		return false, s.wrap("exists", err)
	}
	return n == 1, nil
}

// Count returns the number of ranked players of the window.
func (s *Store) Count(ctx context.Context, board string, w leaderboard.Window) (int64, error) {
	res, err := s.read(ctx, countScript, "count", board, w)
	if errors.Is(err, errEmpty) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return res[1].AsInt64()
}

// Range returns the entries of ranks offset+1 .. offset+limit.
func (s *Store) Range(ctx context.Context, board string, w leaderboard.Window, offset, limit int64) ([]leaderboard.Entry, error) {
	p, err := s.RangePage(ctx, board, w, offset, limit)
	return p.Entries, err
}

// RangePage is Range with the window's player count.
func (s *Store) RangePage(ctx context.Context, board string, w leaderboard.Window, offset, limit int64) (Page, error) {
	if offset < 0 || limit < 0 || limit > MaxPage {
		return Page{}, fmt.Errorf("%w: hotboard: offset %d, limit %d", leaderboard.ErrInvalidArgument, offset, limit)
	}
	res, err := s.read(ctx, rangeScript, "range", board, w, strconv.FormatInt(offset, 10), strconv.FormatInt(limit, 10))
	if errors.Is(err, errEmpty) {
		return Page{}, nil
	}
	if err != nil {
		return Page{}, err
	}
	return pageOf(res)
}

// After returns up to limit entries ranked strictly after the given
// standing (a cursor: the last entry of the previous page), whether or not
// that standing is still on the board. A player whose standing did not
// change is never repeated or skipped.
func (s *Store) After(ctx context.Context, board string, w leaderboard.Window, after leaderboard.Standing, limit int64) ([]leaderboard.Entry, error) {
	p, err := s.AfterPage(ctx, board, w, after, limit)
	return p.Entries, err
}

// AfterPage is After with the window's player count.
func (s *Store) AfterPage(ctx context.Context, board string, w leaderboard.Window, after leaderboard.Standing, limit int64) (Page, error) {
	if limit < 0 || limit > MaxPage {
		return Page{}, fmt.Errorf("%w: hotboard: limit %d", leaderboard.ErrInvalidArgument, limit)
	}
	switch {
	case after.Score > leaderboard.MaxExactTotal:
		// ranks before every readable entry
		return s.RangePage(ctx, board, w, 0, limit)
	case after.Score < -leaderboard.MaxExactTotal:
		// ranks after every readable entry
		p, err := s.RangePage(ctx, board, w, 0, 0)
		return p, err
	}
	mem, err := EncodeMember(after)
	if err != nil {
		return Page{}, err
	}
	res, err := s.read(ctx, afterScript, "after", board, w, negTotal(after.Score), mem, strconv.FormatInt(limit, 10))
	if errors.Is(err, errEmpty) {
		return Page{}, nil
	}
	if err != nil {
		return Page{}, err
	}
	return pageOf(res)
}

// Player returns a player's entry; found is false when the player has no
// accepted event in the window.
func (s *Store) Player(ctx context.Context, board string, w leaderboard.Window, player string) (leaderboard.Entry, bool, error) {
	r, err := s.AroundView(ctx, board, w, player, 0)
	return r.Me, r.Found, err
}

// Around returns a player's entry with up to context entries ranked just
// above (best first) and just below.
func (s *Store) Around(ctx context.Context, board string, w leaderboard.Window, player string, around int64) (above, below []leaderboard.Entry, me leaderboard.Entry, found bool, err error) {
	r, err := s.AroundView(ctx, board, w, player, around)
	return r.Above, r.Below, r.Me, r.Found, err
}

// AroundView is Around with the window's player count.
func (s *Store) AroundView(ctx context.Context, board string, w leaderboard.Window, player string, around int64) (AroundResult, error) {
	if around < 0 || around > MaxContext {
		return AroundResult{}, fmt.Errorf("%w: hotboard: context %d", leaderboard.ErrInvalidArgument, around)
	}
	if player == "" {
		return AroundResult{}, fmt.Errorf("%w: hotboard: empty player_id", leaderboard.ErrInvalidArgument)
	}
	res, err := s.read(ctx, aroundScript, "around", board, w, player, strconv.FormatInt(around, 10))
	if errors.Is(err, errEmpty) {
		return AroundResult{}, nil
	}
	if err != nil {
		return AroundResult{}, err
	}
	total, err := res[1].AsInt64()
	if err != nil {
		return AroundResult{}, fmt.Errorf("hotboard: around: %w", err)
	}
	if len(res) == 3 {
		if nf, _ := res[2].ToString(); nf == "nf" {
			return AroundResult{Total: total}, nil
		}
	}
	rank, err := res[len(res)-1].AsInt64()
	if err != nil {
		return AroundResult{}, fmt.Errorf("hotboard: around: %w", err)
	}
	p, err := pageOf(res[:len(res)-1])
	if err != nil {
		return AroundResult{}, err
	}
	out := AroundResult{Total: total, Found: true}
	for _, e := range p.Entries {
		switch {
		case e.Rank < rank+1:
			out.Above = append(out.Above, e)
		case e.Rank == rank+1:
			out.Me = e
		default:
			out.Below = append(out.Below, e)
		}
	}
	if out.Me.PlayerID != player {
		return AroundResult{}, fmt.Errorf("hotboard: around: rank %d holds %q, not %q", rank+1, out.Me.PlayerID, player)
	}
	return out, nil
}

// read runs a read script on the window and maps the status.
func (s *Store) read(ctx context.Context, script *valkey.Lua, op, board string, w leaderboard.Window, extra ...string) ([]valkey.ValkeyMessage, error) {
	if err := checkBoard(board); err != nil {
		return nil, err
	}
	if err := checkWindow(w); err != nil {
		return nil, err
	}
	base := s.base(board)
	exec := func(distrust bool) ([]valkey.ValkeyMessage, error) {
		d := "0"
		if distrust {
			d = "1"
		}
		args := append([]string{base, w.Key(), d}, extra...)
		return script.Exec(ctx, s.c, []string{base + "m:" + w.Key()}, args).ToArray()
	}
	distrust := s.distrustFeed.Load()
	res, err := exec(distrust)
	if err == nil && !distrust {
		// see SetKeptCheck: the answer stands only if Valkey had not lost
		// its data when the script ran
		if kept := s.kept.Load(); kept != nil {
			ok, kerr := (*kept)(ctx)
			if kerr != nil {
				return nil, s.wrap(op, kerr)
			}
			if !ok || s.distrustFeed.Load() {
				res, err = exec(true)
			}
		}
	}
	if err != nil {
		return nil, s.wrap(op, err)
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("hotboard: %s: empty reply", op)
	}
	status, err := res[0].ToString()
	if err != nil {
		return nil, fmt.Errorf("hotboard: %s: %w", op, err)
	}
	switch status {
	case "ok":
		return res, nil
	case "missing":
		var cfrom string
		if len(res) > 1 {
			cfrom, _ = res[1].ToString()
		}
		if s.emptyWhenMissing(w, cfrom) {
			return nil, errEmpty
		}
		return nil, fmt.Errorf("%w: board %s window %s is not in the hot store", leaderboard.ErrNotCached, board, w.Key())
	case "oor":
		return nil, fmt.Errorf("%w: board %s window %s", leaderboard.ErrTotalOutOfRange, board, w.Key())
	case "inconsistent":
		return nil, fmt.Errorf("board %s window %s: %w", board, w.Key(), ErrInconsistent)
	case "untrusted":
		return nil, fmt.Errorf("%w: board %s window %s was created after Valkey lost its data: it is served from ClickHouse until rebuilt", leaderboard.ErrNotCached, board, w.Key())
	case "rebuild":
		return nil, fmt.Errorf("%w: board %s holds an event the hot store could not apply exactly (older than the dedup horizon): it is served from ClickHouse until rebuilt", leaderboard.ErrNotCached, board)
	}
	return nil, fmt.Errorf("hotboard: %s: unexpected status %q", op, status)
}

// errEmpty: the window's hot board does not exist because it has no event
// (see emptyWhenMissing); callers answer an empty window.
var errEmpty = errors.New("hotboard: empty window")

// emptyWhenMissing tells whether a missing window is known to be empty
// rather than not cached: it is hot, and the store would have created it
// with its first event (creation on, or the board complete since before the
// window's start, cfrom in Unix ms).
func (s *Store) emptyWhenMissing(w leaderboard.Window, cfrom string) bool {
	if !w.IsHot(s.now()) {
		return false
	}
	if s.createMissing.Load() {
		return true
	}
	ms, err := strconv.ParseInt(cfrom, 10, 64)
	return err == nil && w.Type != leaderboard.AllTime && w.Start.UnixMilli() >= ms
}

// pageOf decodes {'ok', count, from, member, total, ...}.
func pageOf(res []valkey.ValkeyMessage) (Page, error) {
	if len(res) < 3 || (len(res)-3)%2 != 0 {
		return Page{}, fmt.Errorf("hotboard: malformed page reply (%d elements)", len(res))
	}
	total, err := res[1].AsInt64()
	if err != nil {
		return Page{}, fmt.Errorf("hotboard: page count: %w", err)
	}
	from, err := res[2].AsInt64()
	if err != nil {
		return Page{}, fmt.Errorf("hotboard: page start: %w", err)
	}
	p := Page{Total: total}
	if n := (len(res) - 3) / 2; n > 0 {
		p.Entries = make([]leaderboard.Entry, 0, n)
	}
	for i := 3; i < len(res); i += 2 {
		mem, err := res[i].ToString()
		if err != nil {
			return Page{}, fmt.Errorf("hotboard: page member: %w", err)
		}
		tot, err := res[i+1].ToString()
		if err != nil {
			return Page{}, fmt.Errorf("hotboard: page total: %w", err)
		}
		player, reached, err := DecodeMember(mem)
		if err != nil {
			return Page{}, err
		}
		score, err := strconv.ParseInt(tot, 10, 64)
		if err != nil {
			return Page{}, fmt.Errorf("hotboard: total of %q: %w", player, err)
		}
		p.Entries = append(p.Entries, leaderboard.Entry{
			Rank:     from + int64(len(p.Entries)) + 1,
			Standing: leaderboard.Standing{PlayerID: player, Score: score, ReachedAt: reached},
		})
	}
	return p, nil
}

// Conflict is one recorded conflict: a record whose identity was already
// applied with another payload.
type Conflict struct {
	Partition        int32
	Offset           int64
	SeenAt           time.Time
	EventID          string
	PlayerID         string
	AppliedPrint     string // fingerprint of the applied (winning) payload
	ConflictingPrint string // fingerprint of the rejected payload
}

// BoardStatus is a board's bookkeeping in the hot store.
type BoardStatus struct {
	Aggregation leaderboard.Aggregation // "" before the first Apply
	Conflicts   int64
	Stale       int64
	// RebuildGen counts events that could not be applied exactly (stale
	// events, int64 overflow); RebuiltGen is the generation the last rebuild
	// covered (ClearNeedsRebuild).
	RebuildGen, RebuiltGen int64
	NeedsRebuild           bool
	// CompleteFrom is set when a rebuild seeded the board's marks after
	// Valkey lost data (CommitOptions.CompleteFrom); zero otherwise.
	CompleteFrom    time.Time
	Watermarks      map[int32]int64
	RecentConflicts []Conflict // newest first
}

// Status reads a board's bookkeeping in one consistent step.
func (s *Store) Status(ctx context.Context, board string) (BoardStatus, error) {
	if err := checkBoard(board); err != nil {
		return BoardStatus{}, err
	}
	base := s.base(board)
	res, err := boardScript.Exec(ctx, s.c, []string{base + "bm"}, []string{base}).ToArray()
	if err != nil {
		return BoardStatus{}, s.wrap("status", err)
	}
	if len(res) != 3 {
		return BoardStatus{}, fmt.Errorf("hotboard: status: malformed reply")
	}
	bm, err := flatMap(res[0])
	if err != nil {
		return BoardStatus{}, err
	}
	wm, err := flatMap(res[1])
	if err != nil {
		return BoardStatus{}, err
	}
	list, err := res[2].AsStrSlice()
	if err != nil {
		return BoardStatus{}, fmt.Errorf("hotboard: status: %w", err)
	}
	st := BoardStatus{Aggregation: leaderboard.Aggregation(bm["agg"]), Watermarks: make(map[int32]int64, len(wm))}
	for name, dst := range map[string]*int64{"conflicts": &st.Conflicts, "stale": &st.Stale, "rebuild_gen": &st.RebuildGen, "rebuilt_gen": &st.RebuiltGen} {
		if v, ok := bm[name]; ok {
			if *dst, err = strconv.ParseInt(v, 10, 64); err != nil {
				return BoardStatus{}, fmt.Errorf("hotboard: status %s: %w", name, err)
			}
		}
	}
	st.NeedsRebuild = st.RebuildGen > st.RebuiltGen
	if v, ok := bm["complete_from"]; ok {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return BoardStatus{}, fmt.Errorf("hotboard: status complete_from: %w", err)
		}
		st.CompleteFrom = time.UnixMilli(ms).UTC()
	}
	for p, v := range wm {
		pi, err1 := strconv.ParseInt(p, 10, 32)
		vi, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			return BoardStatus{}, fmt.Errorf("hotboard: malformed watermark %q=%q", p, v)
		}
		st.Watermarks[int32(pi)] = vi
	}
	for _, l := range list {
		c, err := parseConflict(l)
		if err != nil {
			return BoardStatus{}, err
		}
		st.RecentConflicts = append(st.RecentConflicts, c)
	}
	return st, nil
}

func flatMap(m valkey.ValkeyMessage) (map[string]string, error) {
	kv, err := m.AsStrSlice()
	if err != nil || len(kv)%2 != 0 {
		return nil, fmt.Errorf("hotboard: malformed hash reply: %v", err)
	}
	out := make(map[string]string, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out, nil
}

// parseConflict decodes "partition|offset|seen_ms|applied_fp|new_fp|event_id player".
func parseConflict(l string) (Conflict, error) {
	f := strings.SplitN(l, "|", 6)
	if len(f) != 6 {
		return Conflict{}, fmt.Errorf("hotboard: malformed conflict %q", l)
	}
	p, err1 := strconv.ParseInt(f[0], 10, 32)
	o, err2 := strconv.ParseInt(f[1], 10, 64)
	ms, err3 := strconv.ParseInt(f[2], 10, 64)
	ev, player, ok := strings.Cut(f[5], " ")
	if err1 != nil || err2 != nil || err3 != nil || !ok {
		return Conflict{}, fmt.Errorf("hotboard: malformed conflict %q", l)
	}
	return Conflict{Partition: int32(p), Offset: o, SeenAt: time.UnixMilli(ms).UTC(), EventID: ev, PlayerID: player,
		AppliedPrint: f[3], ConflictingPrint: f[4]}, nil
}

// ConflictCount returns how many conflicts the board has counted.
func (s *Store) ConflictCount(ctx context.Context, board string) (int64, error) {
	st, err := s.Status(ctx, board)
	return st.Conflicts, err
}

// RecentConflicts returns the board's most recent conflicts, newest first.
func (s *Store) RecentConflicts(ctx context.Context, board string) ([]Conflict, error) {
	st, err := s.Status(ctx, board)
	return st.RecentConflicts, err
}

// Watermarks returns, per partition, the next offset of the board's records
// the hot store will apply (all before it are handled).
func (s *Store) Watermarks(ctx context.Context, board string) (map[int32]int64, error) {
	st, err := s.Status(ctx, board)
	return st.Watermarks, err
}

// ClearNeedsRebuild records that a rebuild covered every event counted up to
// generation gen (BoardStatus.RebuildGen read before the rebuild started).
// Events flagged later keep the board flagged.
func (s *Store) ClearNeedsRebuild(ctx context.Context, board string, gen int64) error {
	if err := checkBoard(board); err != nil {
		return err
	}
	base := s.base(board)
	return s.wrap("clear rebuild", clearRebuildScript.Exec(ctx, s.c, []string{base + "bm"}, []string{base, strconv.FormatInt(gen, 10)}).Error())
}

// BoardAggregation returns the aggregation the board's hot state was built
// with (fixed by its first applied event); false when the board has none.
func (s *Store) BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error) {
	st, err := s.Status(ctx, board)
	if err != nil {
		return "", false, err
	}
	return st.Aggregation, st.Aggregation != "", nil
}

// Package hotboard is the hot store of leaderboards: the current and recent
// windows of every board, kept in Valkey sorted sets by the service's
// consumer, exact and idempotent.
//
// Every key of a board carries the hash tag {<board>} so one Lua script can
// update all of a board's windows, its dedup marks and its watermarks in one
// atomic step, also on Valkey Cluster. A window's ranking is a sorted set
// whose score is -total and whose member is the 16-digit zero-padded
// reached_at in milliseconds followed by the player id, so ascending
// sorted-set order is exactly the contract order (score desc, reached_at asc,
// player_id asc bytewise). Exact totals are kept with integer arithmetic on
// the server; a window where a total leaves +-(2^53-1) answers
// leaderboard.ErrTotalOutOfRange. docs/hot-store.md has the whole design.
package hotboard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/leaderboard"
)

// Defaults.
const (
	DefaultPrefix       = "lb"
	DefaultDedupHorizon = 14 * 24 * time.Hour
	// DefaultConflictCap bounds the recent-conflicts list of a board.
	DefaultConflictCap = 100
	// StaleMargin: an event is applied only while its dedup bucket has at
	// least this long to live, so clock drift between the service and Valkey
	// can never let a mark expire while its event could still be applied.
	StaleMargin = time.Hour
	// MaxPage bounds the entries one read returns.
	MaxPage = 10000
	// MaxContext bounds Around's context.
	MaxContext = 1000
	// replaceChunk is how many standings one build script writes.
	replaceChunk = 500
	// replaceBuildTTL is how long an abandoned build's temporary keys live.
	replaceBuildTTL = time.Hour
)

// Options configure a Store. The zero value is usable.
type Options struct {
	// Prefix starts every key; default "lb".
	Prefix string
	// DedupHorizon is how long after the end of an event's occurred_at UTC
	// day its identity mark is kept; default 14 days. Events whose mark
	// would live less than StaleMargin are stale: not applied, and the board
	// is flagged for a rebuild.
	DedupHorizon time.Duration
	// CreateMissing allows Apply to create the hot board of a window that
	// does not exist yet (and is hot). Set it only while this Valkey has
	// been fed continuously since the beginning of the topic, so that a
	// missing window really has no earlier events; see SetCreateMissing.
	CreateMissing bool
	// ConflictCap bounds the recent-conflicts list; default 100.
	ConflictCap int
	// Now is the clock (Replace, default time.Now).
	Now func() time.Time
}

// Store is the hot store. It is safe for concurrent use.
type Store struct {
	c             valkey.Client
	prefix        string
	horizon       time.Duration
	conflictCap   int
	now           func() time.Time
	createMissing atomic.Bool
	distrustFeed  atomic.Bool
	kept          atomic.Pointer[func(context.Context) (bool, error)]
}

// New returns a Store on client.
func New(client valkey.Client, opts Options) *Store {
	s := &Store{
		c:           client,
		prefix:      opts.Prefix,
		horizon:     opts.DedupHorizon,
		conflictCap: opts.ConflictCap,
		now:         opts.Now,
	}
	if s.prefix == "" {
		s.prefix = DefaultPrefix
	}
	if s.horizon <= 0 {
		s.horizon = DefaultDedupHorizon
	}
	if s.conflictCap <= 0 {
		s.conflictCap = DefaultConflictCap
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.createMissing.Store(opts.CreateMissing)
	return s
}

// SetCreateMissing switches whether Apply may create missing hot boards
// (see Options.CreateMissing). The service turns it off when it cannot prove
// that Valkey has been fed continuously (for instance after Valkey lost its
// data), and back on after a full rebuild.
func (s *Store) SetCreateMissing(v bool) { s.createMissing.Store(v) }

// DistrustFeedCreated marks every window that Apply created from the feed
// (while creation was on, without a rebuild since) as not cached. The
// service calls it when it finds that Valkey lost its data: every window
// that existed before the loss is gone, so a window created from the feed
// that is still there was created after the loss, possibly before the
// service noticed it, and may lack earlier events. Rebuilt windows, and
// windows created under a board's complete_from, stay trusted. It stays on
// for the life of the Store.
func (s *Store) DistrustFeedCreated() { s.distrustFeed.Store(true) }

// SetKeptCheck installs the check that reads run after their script while
// feed-created windows are trusted: it reports whether Valkey has kept its
// data since the feed state was decided, and when it has not, it turns
// creation off and distrusts feed-created windows before returning. A read
// whose script ran just after a loss (before the service's probe noticed
// it) could otherwise serve a window the feed recreated with only the
// newest events, or take a lost window for an empty one; with the check, it
// reads again under the new settings instead. It costs one round trip per
// read while the feed is trusted.
func (s *Store) SetKeptCheck(fn func(context.Context) (bool, error)) { s.kept.Store(&fn) }

// CreateMissing reports the current setting.
func (s *Store) CreateMissing() bool { return s.createMissing.Load() }

// DedupHorizon is the configured horizon.
func (s *Store) DedupHorizon() time.Duration { return s.horizon }

// Ping checks that Valkey answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.wrap("ping", s.c.Do(ctx, s.c.B().Ping().Build()).Error())
}

// ErrInconsistent: a hot window's keys disagree (a ranked player without a
// total or reached_at, a key lost on its own). It wraps
// leaderboard.ErrNotCached, so reads fall back to ClickHouse; a rebuild
// replaces every key of the window and repairs it.
var ErrInconsistent = fmt.Errorf("%w: the hot window's keys are inconsistent (served from ClickHouse until rebuilt)", leaderboard.ErrNotCached)

// inconsistentReply starts the scripts' error replies for an inconsistent
// window.
const inconsistentReply = "hotboard: inconsistent window"

// Key layout (base = "<prefix>:{<board>}:"):
//
//	base+"wm"          hash partition -> next offset to apply
//	base+"bm"          hash: agg, conflicts, stale, rebuild_gen, rebuilt_gen
//	base+"cf"          list of recent conflicts (newest first, capped)
//	base+"md"          sorted set of live mark buckets: day -> expiry ms
//	base+"mk:"+day     hash identity -> fingerprint, day = YYYYMMDD of occurred_at
//	base+"z:"+w        sorted set: score -total, member reached16+player
//	base+"t:"+w        hash player -> exact total (integer string)
//	base+"r:"+w        hash player -> reached_at ms, 16 zero-padded digits
//	base+"m:"+w        hash window meta: created_at, rebuilt_at, oor, overflow
//	base+"tmp:"+id+":" z/t/r of a Replace build in progress
//
// with w = leaderboard.Window.Key() ("d20261203", "w20261130", "all").
func (s *Store) base(board string) string { return s.prefix + ":{" + board + "}:" }

// checkBoard also guarantees the hash tag: board ids never contain braces.
func checkBoard(board string) error {
	if !leaderboard.ValidBoardID(board) {
		return fmt.Errorf("%w: hotboard: invalid leaderboard id %q", leaderboard.ErrInvalidArgument, board)
	}
	return nil
}

func checkWindow(w leaderboard.Window) error {
	switch w.Type {
	case leaderboard.Daily, leaderboard.Weekly, leaderboard.AllTime:
		return nil
	}
	return fmt.Errorf("%w: hotboard: %q windows are never hot", leaderboard.ErrInvalidArgument, w.Type)
}

// msDigits is the fixed width of reached_at in a member.
const msDigits = 16

// maxMs is the largest reached_at the encoding accepts: 2^53-1 ms (year
// 287396), so that the scripts can compare timestamps as exact doubles; it
// also fits the 16 digits.
const maxMs = 1<<53 - 1

// encodeMs writes a reached_at as 16 zero-padded decimal digits, so
// bytewise order of the strings is numeric order.
func encodeMs(t time.Time) (string, error) {
	ms := t.UnixMilli()
	if ms < 0 || ms > maxMs {
		return "", fmt.Errorf("%w: hotboard: time %s outside the encodable range", leaderboard.ErrInvalidArgument, t.UTC().Format(time.RFC3339Nano))
	}
	return fmt.Sprintf("%0*d", msDigits, ms), nil
}

// EncodeMember is the sorted-set member of a standing: reached_at in
// milliseconds as 16 zero-padded digits, then the player id. Exported for
// tests and tools.
func EncodeMember(st leaderboard.Standing) (string, error) {
	ms, err := encodeMs(st.ReachedAt)
	if err != nil {
		return "", err
	}
	return ms + st.PlayerID, nil
}

// DecodeMember is the inverse of EncodeMember.
func DecodeMember(m string) (player string, reachedAt time.Time, err error) {
	if len(m) <= msDigits {
		return "", time.Time{}, fmt.Errorf("hotboard: malformed member %q", m)
	}
	ms, err := strconv.ParseInt(m[:msDigits], 10, 64)
	if err != nil || ms < 0 {
		return "", time.Time{}, fmt.Errorf("hotboard: malformed member %q", m)
	}
	return m[msDigits:], time.UnixMilli(ms).UTC(), nil
}

// negTotal is the exact decimal string of -total (the sorted-set score).
func negTotal(total int64) string {
	switch {
	case total == 0:
		return "0"
	case total < 0:
		return strconv.FormatUint(uint64(-(total+1))+1, 10)
	default:
		return "-" + strconv.FormatInt(total, 10)
	}
}

func inRange(total int64) bool {
	return total >= -leaderboard.MaxExactTotal && total <= leaderboard.MaxExactTotal
}

// wrap marks connection-level failures as leaderboard.ErrUnavailable; server
// error replies are returned with context only.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if ve, ok := valkey.IsValkeyErr(err); ok {
		if strings.Contains(ve.Error(), inconsistentReply) {
			return fmt.Errorf("hotboard: %s: %w: %w", op, ErrInconsistent, err)
		}
		return fmt.Errorf("hotboard: %s: %w", op, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("hotboard: %s: %w", op, err)
	}
	return fmt.Errorf("hotboard: %s: %w: %w", op, leaderboard.ErrUnavailable, err)
}

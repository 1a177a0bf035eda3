package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Kind says what a generated record is meant to exercise. The kinds are
// exclusive.
type Kind int

// Record kinds.
const (
	KindNormal     Kind = iota // a fresh valid event, occurred_at just before now
	KindDuplicate              // an earlier record re-sent byte for byte (same key and value)
	KindLate                   // a fresh valid event with occurred_at hours earlier or in yesterday's daily window
	KindOutOfOrder             // a fresh valid event of a player's group sent in shuffled occurred_at order
	KindInvalid                // a record the service must reject, for Record.Reason
)

func (k Kind) String() string {
	switch k {
	case KindNormal:
		return "normal"
	case KindDuplicate:
		return "duplicate"
	case KindLate:
		return "late"
	case KindOutOfOrder:
		return "out_of_order"
	case KindInvalid:
		return "invalid"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Record is one generated Kafka record (for the http target only Value is
// sent).
type Record struct {
	Key       []byte    // "<board>:<player>", except for an intended key mismatch
	Value     []byte    // the event JSON (leaderboard.Event.RecordValue), or a broken one
	Timestamp time.Time // the record timestamp: Config.Now at generation
	Kind      Kind
	Reason    leaderboard.Reason // KindInvalid: the reason the service must give; otherwise ""
}

// Tunables of the generated traffic.
const (
	maxJitter       = 2 * time.Second // occurred_at of a normal event: now minus up to this
	dupWindow       = 4096            // duplicates re-send one of the last dupWindow records
	metadataPercent = 10              // share of valid events carrying metadata
	negativePercent = 5               // share of valid events with a negative score
	oooMinGroup     = 2               // an out-of-order group has 2..4 events
	oooMaxGroup     = 4
	oooMeanGroup    = float64(oooMinGroup+oooMaxGroup) / 2
)

// Generator produces the records of a Config, deterministically for its Seed
// and clock. It is not safe for concurrent use.
type Generator struct {
	cfg     Config
	rng     *rand.Rand
	zipf    *rand.Zipf // nil when Players == 1
	counter uint64

	// Per-draw probabilities, corrected for out-of-order groups yielding
	// several events from one draw (see NewGenerator).
	pInvalid, pDup, pLate, pOOO float64

	recent  []Record // ring of the last dupWindow fresh valid records
	next    int      // next slot of recent to overwrite
	pending []Record // rest of the current out-of-order group
}

// NewGenerator validates cfg and returns its generator. The Target matters:
// key mismatches are only generated for the kafka target (POST /events has no
// record key).
func NewGenerator(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Generator{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
	}
	if cfg.Players > 1 {
		g.zipf = rand.NewZipf(g.rng, cfg.ZipfS, 1, uint64(cfg.Players-1))
	}
	// One draw yields one event, except an out-of-order draw which yields a
	// group of mean size m. With q the out-of-order draw probability, the
	// share of out-of-order events is q*m / (1 + q*(m-1)); solving for the
	// configured share f gives q = f / (m - f*(m-1)), and every other
	// category's draw probability is its share times 1 + q*(m-1). These sum
	// to at most 1 exactly when the configured shares do.
	m := oooMeanGroup
	f := cfg.OutOfOrderFraction
	g.pOOO = f / (m - f*(m-1))
	scale := 1 + g.pOOO*(m-1)
	g.pInvalid = cfg.InvalidFraction * scale
	g.pDup = cfg.DuplicateFraction * scale
	g.pLate = cfg.LateFraction * scale
	return g, nil
}

// Next returns the next record.
func (g *Generator) Next() Record {
	if len(g.pending) > 0 {
		r := g.pending[0]
		g.pending = g.pending[1:]
		return r
	}
	now := g.cfg.now()
	u := g.rng.Float64()
	switch {
	case u < g.pInvalid:
		return g.invalid(now)
	case u < g.pInvalid+g.pDup:
		if len(g.recent) > 0 {
			r := g.recent[g.rng.IntN(len(g.recent))]
			r.Kind, r.Timestamp = KindDuplicate, now
			return r
		}
		// Nothing to duplicate yet: a normal event.
	case u < g.pInvalid+g.pDup+g.pLate:
		return g.remember(g.fresh(now, KindLate, g.lateTime(now)))
	case u < g.pInvalid+g.pDup+g.pLate+g.pOOO:
		return g.outOfOrderGroup(now)
	}
	return g.remember(g.fresh(now, KindNormal, now.Add(-g.jitter())))
}

// Batch returns the next n records.
func (g *Generator) Batch(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		out[i] = g.Next()
	}
	return out
}

func (g *Generator) jitter() time.Duration {
	return time.Duration(g.rng.Int64N(int64(maxJitter)))
}

// lateTime is the occurred_at of a late event: half of them a few hours
// ago (1..6 h), half within yesterday's UTC daily window. Both are within the
// last 48 hours.
func (g *Generator) lateTime(now time.Time) time.Time {
	if g.rng.IntN(2) == 0 {
		return now.Add(-time.Hour - time.Duration(g.rng.Int64N(int64(5*time.Hour))))
	}
	today := now.UTC().Truncate(24 * time.Hour)
	return today.Add(-24 * time.Hour).Add(time.Duration(g.rng.Int64N(int64(24 * time.Hour))))
}

// pick chooses a board uniformly and a player of it by Zipf; each board has
// its own most active players.
func (g *Generator) pick() (board, player string) {
	b := g.rng.IntN(g.cfg.Boards)
	p := 0
	if g.zipf != nil {
		p = int((g.zipf.Uint64() + uint64(b)*7919) % uint64(g.cfg.Players))
	}
	return boardID(b), playerID(p)
}

func boardID(i int) string  { return fmt.Sprintf("board-%03d", i+1) }
func playerID(i int) string { return fmt.Sprintf("player-%06d", i+1) }

// event makes a fresh valid event of board and player.
func (g *Generator) event(board, player string, at time.Time) leaderboard.Event {
	g.counter++
	e := leaderboard.Event{
		EventID:    strconv.FormatInt(g.cfg.Seed, 10) + "-" + strconv.FormatUint(g.counter, 10),
		BoardID:    board,
		PlayerID:   player,
		Score:      1 + g.rng.Int64N(100),
		OccurredAt: at.UTC().Truncate(time.Millisecond),
	}
	if g.rng.IntN(100) < negativePercent {
		e.Score = -1 - g.rng.Int64N(50)
	}
	if g.rng.IntN(100) < metadataPercent {
		e.Metadata = json.RawMessage(`{"source":"loadgen","level":` + strconv.Itoa(1+g.rng.IntN(50)) + `}`)
	}
	return e
}

func (g *Generator) fresh(now time.Time, kind Kind, at time.Time) Record {
	board, player := g.pick()
	return g.record(now, kind, g.event(board, player, at))
}

func (g *Generator) record(now time.Time, kind Kind, e leaderboard.Event) Record {
	v, err := e.RecordValue()
	if err != nil {
		panic("loadgen: encoding a generated event: " + err.Error()) // cannot happen
	}
	return Record{Key: []byte(e.Key()), Value: v, Timestamp: now, Kind: kind}
}

// remember keeps r as a candidate for later duplicates and returns it.
func (g *Generator) remember(r Record) Record {
	if len(g.recent) < dupWindow {
		g.recent = append(g.recent, r)
	} else {
		g.recent[g.next] = r
		g.next = (g.next + 1) % dupWindow
	}
	return r
}

// outOfOrderGroup makes 2..4 events of one player with increasing
// occurred_at (and event ids), queues them in a shuffled order that is never
// the occurred_at order, and returns the first.
func (g *Generator) outOfOrderGroup(now time.Time) Record {
	n := oooMinGroup + g.rng.IntN(oooMaxGroup-oooMinGroup+1)
	board, player := g.pick()
	times := make([]time.Time, n)
	at := now.Add(-g.jitter())
	for i := n - 1; i >= 0; i-- {
		times[i] = at
		at = at.Add(-time.Duration(100+g.rng.IntN(900)) * time.Millisecond)
	}
	inOrder := make([]Record, n)
	for i, t := range times {
		inOrder[i] = g.remember(g.record(now, KindOutOfOrder, g.event(board, player, t)))
	}
	perm := g.rng.Perm(n)
	identity := true
	for i, p := range perm {
		identity = identity && i == p
	}
	if identity {
		slices.Reverse(perm)
	}
	g.pending = g.pending[:0]
	for _, p := range perm[1:] {
		g.pending = append(g.pending, inOrder[p])
	}
	return inOrder[perm[0]]
}

// invalid makes a record the service must reject: truncated JSON, a score as
// a string, a huge score, occurred_at far in the future, or (kafka target
// only) a key that does not match the event.
func (g *Generator) invalid(now time.Time) Record {
	kinds := 4
	if g.cfg.Target == TargetKafka {
		kinds = 5
	}
	board, player := g.pick()
	e := g.event(board, player, now.Add(-g.jitter()))
	var r Record
	switch g.rng.IntN(kinds) {
	case 0: // cut anywhere before the closing brace: never a complete value
		r = g.record(now, KindInvalid, e)
		r.Value = r.Value[:1+g.rng.IntN(len(r.Value)-1)]
		r.Reason = leaderboard.ReasonMalformedJSON
	case 1:
		r = g.record(now, KindInvalid, e)
		s := strconv.FormatInt(e.Score, 10)
		r.Value = bytes.Replace(r.Value, []byte(`"score":`+s+`,`), []byte(`"score":"`+s+`",`), 1)
		r.Reason = leaderboard.ReasonInvalidField
	case 2:
		e.Score = leaderboard.MaxEventScore + 1 + g.rng.Int64N(leaderboard.MaxEventScore)
		if g.rng.IntN(4) == 0 {
			e.Score = -e.Score
		}
		r = g.record(now, KindInvalid, e)
		r.Reason = leaderboard.ReasonScoreOutOfRange
	case 3: // 1..30 days ahead: past any sane clock-skew allowance
		e.OccurredAt = now.Add(24*time.Hour + time.Duration(g.rng.Int64N(int64(29*24*time.Hour)))).UTC().Truncate(time.Millisecond)
		r = g.record(now, KindInvalid, e)
		r.Reason = leaderboard.ReasonOccurredAtOutOfRange
	default: // typical producer bugs: the player id alone, or the parts swapped
		r = g.record(now, KindInvalid, e)
		if g.rng.IntN(2) == 0 {
			r.Key = []byte(player)
		} else {
			r.Key = []byte(player + ":" + board)
		}
		r.Reason = leaderboard.ReasonKeyMismatch
	}
	return r
}

package leaderboard

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Aggregation says how a player's events in a window combine into a score.
type Aggregation string

// The aggregations (contract section 2).
const (
	Sum Aggregation = "sum"
	Max Aggregation = "max"
)

// ParseAggregation validates an aggregation name.
func ParseAggregation(s string) (Aggregation, error) {
	switch Aggregation(s) {
	case Sum, Max:
		return Aggregation(s), nil
	}
	return "", fmt.Errorf("%w: aggregation: must be one of sum, max", ErrInvalidArgument)
}

// Standing is a player's aggregate in one window.
type Standing struct {
	PlayerID  string
	Score     int64
	ReachedAt time.Time
}

// Entry is a ranked standing.
type Entry struct {
	Rank int64
	Standing
}

// Fold adds one accepted event (its score and occurred_at) to a player's
// standing in a window, per contract section 4. first says that s holds no
// event yet: the result is then the event alone (s.PlayerID is kept).
//
//   - Sum: the scores add up; reached_at is the latest occurred_at of all the
//     events, whatever their score (zero and negative included).
//   - Max: the best single score; reached_at is the earliest occurred_at among
//     the events carrying that score.
//
// Folding is commutative and associative, so the standing depends only on the
// set of events, never on their order. ReachedAt is kept in UTC. Sum does not
// guard against overflow: with |score| <= 1e12 it takes over 9 million events
// to leave int64, and CheckTotal rejects totals long before.
// An unknown aggregation folds like Sum.
func (a Aggregation) Fold(s Standing, first bool, score int64, at time.Time) Standing {
	at = at.UTC()
	if first {
		return Standing{PlayerID: s.PlayerID, Score: score, ReachedAt: at}
	}
	switch a {
	case Max:
		if score > s.Score || (score == s.Score && at.Before(s.ReachedAt)) {
			s.Score, s.ReachedAt = score, at
		}
	default:
		s.Score += score
		if at.After(s.ReachedAt) {
			s.ReachedAt = at
		}
	}
	s.ReachedAt = s.ReachedAt.UTC()
	return s
}

// Standings folds events into one standing per player, in ranking order
// (Less). The caller passes the accepted, deduplicated events of one board and
// one window; it is the reference the stores are tested against.
func (a Aggregation) Standings(events []Event) []Standing {
	index := make(map[string]int)
	var out []Standing
	for _, e := range events {
		i, seen := index[e.PlayerID]
		if !seen {
			i = len(out)
			index[e.PlayerID] = i
			out = append(out, Standing{PlayerID: e.PlayerID})
		}
		out[i] = a.Fold(out[i], !seen, e.Score, e.OccurredAt)
	}
	slices.SortFunc(out, Compare)
	return out
}

// Less reports whether a ranks before b: higher score first, then earlier
// reached_at, then player_id ascending bytewise (contract section 4).
func Less(a, b Standing) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	if !a.ReachedAt.Equal(b.ReachedAt) {
		return a.ReachedAt.Before(b.ReachedAt)
	}
	return strings.Compare(a.PlayerID, b.PlayerID) < 0
}

// Compare is Less as a three-way comparison for slices.SortFunc: negative
// when a ranks before b, positive when after, 0 when they tie on every key
// (only possible for the same player_id).
func Compare(a, b Standing) int {
	switch {
	case Less(a, b):
		return -1
	case Less(b, a):
		return 1
	}
	return 0
}

// Rank sorts standings with Less and numbers them 1..n (ranks are unique:
// player_id breaks every tie). The input is not modified.
func Rank(standings []Standing) []Entry {
	sorted := slices.Clone(standings)
	slices.SortStableFunc(sorted, Compare)
	entries := make([]Entry, len(sorted))
	for i, s := range sorted {
		entries[i] = Entry{Rank: int64(i) + 1, Standing: s}
	}
	return entries
}

package leaderboard

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// at returns 2026-12-03 10:mm UTC.
func at(minute int) time.Time { return time.Date(2026, 12, 3, 10, minute, 0, 0, time.UTC) }

type scored struct {
	score int64
	at    time.Time
}

func foldAll(a Aggregation, player string, events []scored) Standing {
	s := Standing{PlayerID: player}
	for i, e := range events {
		s = a.Fold(s, i == 0, e.score, e.at)
	}
	return s
}

func TestFold(t *testing.T) {
	tests := []struct {
		name      string
		agg       Aggregation
		events    []scored
		score     int64
		reachedAt time.Time
	}{
		{"sum single", Sum, []scored{{100, at(0)}}, 100, at(0)},
		{"sum with negative (C3)", Sum, []scored{{100, at(0)}, {-30, at(5)}}, 70, at(5)},
		{"sum reached_at is the latest event, even a zero", Sum, []scored{{100, at(0)}, {0, at(9)}, {5, at(3)}}, 105, at(9)},
		{"sum reached_at counts a negative event", Sum, []scored{{100, at(9)}, {-1, at(10)}}, 99, at(10)},
		{"sum all negative", Sum, []scored{{-5, at(1)}, {-7, at(2)}}, -12, at(2)},
		{"max best score", Max, []scored{{10, at(0)}, {30, at(5)}, {20, at(9)}}, 30, at(5)},
		{"max ties keep the earliest", Max, []scored{{30, at(7)}, {30, at(2)}, {30, at(9)}}, 30, at(2)},
		{"max lower later score does not move reached_at", Max, []scored{{30, at(2)}, {5, at(1)}}, 30, at(2)},
		{"max negative only", Max, []scored{{-10, at(1)}, {-3, at(4)}}, -3, at(4)},
		{"first discards the previous standing", Max, []scored{{-10, at(1)}}, -10, at(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := foldAll(tt.agg, "amy", tt.events)
			assert.Equal(t, "amy", got.PlayerID)
			assert.Equal(t, tt.score, got.Score)
			assert.True(t, tt.reachedAt.Equal(got.ReachedAt), "reached_at %s", got.ReachedAt)
		})
	}
}

func TestFoldNormalisesToUTC(t *testing.T) {
	s := Sum.Fold(Standing{PlayerID: "amy"}, true, 1, at(0).In(time.FixedZone("X", 3600)))
	assert.Equal(t, time.UTC, s.ReachedAt.Location())
}

// TestFoldOrderIndependent folds random event sets in random orders and
// checks the standing is always the one defined by contract section 4.
func TestFoldOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for i := 0; i < 5000; i++ {
		events := make([]scored, 1+rng.IntN(8))
		for j := range events { // small ranges: many ties
			events[j] = scored{int64(rng.IntN(5) - 2), at(rng.IntN(4))}
		}
		for _, agg := range []Aggregation{Sum, Max} {
			want := definedStanding(agg, events)
			for p := 0; p < 5; p++ {
				perm := make([]scored, len(events))
				for k, j := range rng.Perm(len(events)) {
					perm[k] = events[j]
				}
				got := foldAll(agg, "p", perm)
				require.Equal(t, want.Score, got.Score, "%s %v", agg, perm)
				require.True(t, want.ReachedAt.Equal(got.ReachedAt), "%s %v", agg, perm)
			}
		}
	}
}

// definedStanding computes the standing straight from the contract's words.
func definedStanding(agg Aggregation, events []scored) Standing {
	var s Standing
	switch agg {
	case Sum:
		for _, e := range events {
			s.Score += e.score
			if e.at.After(s.ReachedAt) {
				s.ReachedAt = e.at
			}
		}
	case Max:
		s.Score = events[0].score
		for _, e := range events {
			s.Score = max(s.Score, e.score)
		}
		s.ReachedAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, e := range events {
			if e.score == s.Score && e.at.Before(s.ReachedAt) {
				s.ReachedAt = e.at
			}
		}
	}
	return s
}

func TestRank(t *testing.T) {
	tests := []struct {
		name      string
		standings []Standing
		want      []string // player ids in rank order
	}{
		{"C9 ties by reached_at, not by insertion", []Standing{
			{"bob", 100, at(5)}, {"dan", 99, at(6)}, {"amy", 100, at(1)}, {"cat", 101, at(0)},
		}, []string{"cat", "amy", "bob", "dan"}},
		{"C10 same score same moment: player_id", []Standing{{"zoe", 50, at(0)}, {"abe", 50, at(0)}}, []string{"abe", "zoe"}},
		{"C11 zero and negative scores are ranked", []Standing{{"neg", -5, at(0)}, {"zed", 0, at(0)}, {"amy", 50, at(0)}}, []string{"amy", "zed", "neg"}},
		{"player_id is bytewise", []Standing{{"a", 1, at(0)}, {"B", 1, at(0)}, {"é", 1, at(0)}, {"Z", 1, at(0)}}, []string{"B", "Z", "a", "é"}},
		{"empty", nil, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := append([]Standing(nil), tt.standings...)
			entries := Rank(tt.standings)
			require.Len(t, entries, len(tt.want))
			got := make([]string, len(entries))
			for i, e := range entries {
				got[i] = e.PlayerID
				assert.Equal(t, int64(i+1), e.Rank)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, input, tt.standings, "input modified")
		})
	}
}

func TestStandings(t *testing.T) {
	events := []Event{
		{PlayerID: "amy", Score: 100, OccurredAt: at(0)},
		{PlayerID: "bob", Score: 10, OccurredAt: at(6)},
		{PlayerID: "amy", Score: -30, OccurredAt: at(5)},
	}
	assert.Equal(t, []Standing{{"amy", 70, at(5)}, {"bob", 10, at(6)}}, Sum.Standings(events))
	assert.Equal(t, []Standing{{"amy", 100, at(0)}, {"bob", 10, at(6)}}, Max.Standings(events))
}

// TestLessIsStrictTotalOrder checks Less on random standings with many ties:
// irreflexive, asymmetric, transitive, and total over distinct players.
func TestLessIsStrictTotalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	zones := []*time.Location{time.UTC, time.FixedZone("A", 3600), time.FixedZone("B", -5*3600)}
	random := func() Standing {
		return Standing{
			PlayerID:  []string{"a", "b", "B", "é", "a\x00", ""}[rng.IntN(6)],
			Score:     int64(rng.IntN(3) - 1),
			ReachedAt: at(rng.IntN(3)).In(zones[rng.IntN(len(zones))]), // same instants, other zones
		}
	}
	for i := 0; i < 20000; i++ {
		a, b, c := random(), random(), random()
		require.False(t, Less(a, a), "irreflexive: %v", a)
		require.False(t, Less(a, b) && Less(b, a), "asymmetric: %v %v", a, b)
		if Less(a, b) && Less(b, c) {
			require.True(t, Less(a, c), "transitive: %v %v %v", a, b, c)
		}
		if a.PlayerID != b.PlayerID {
			require.True(t, Less(a, b) || Less(b, a), "total: %v %v", a, b)
		}
		require.Equal(t, Compare(a, b), -Compare(b, a))
	}
}

// TestRankProperties ranks random boards: ranks are 1..n and each entry is
// before the next by Less, whatever the input order.
func TestRankProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for i := 0; i < 500; i++ {
		n := rng.IntN(40)
		standings := make([]Standing, n)
		for j := range standings {
			standings[j] = Standing{PlayerID: string(rune('a' + j)), Score: int64(rng.IntN(4)), ReachedAt: at(rng.IntN(3))}
		}
		entries := Rank(standings)
		require.Len(t, entries, n)
		rng.Shuffle(n, func(x, y int) { standings[x], standings[y] = standings[y], standings[x] })
		shuffled := Rank(standings)
		for j := range entries {
			require.Equal(t, int64(j+1), entries[j].Rank)
			require.Equal(t, entries[j], shuffled[j])
			if j > 0 {
				require.True(t, Less(entries[j-1].Standing, entries[j].Standing))
			}
		}
	}
}

package loadgen

import (
	"errors"
	"regexp"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
)

var testNow = time.Date(2026, 12, 3, 10, 15, 2, 120_000_000, time.UTC)

func fixedClock() time.Time { return testNow }

func genConfig(target string) Config {
	c := DefaultConfig()
	if target == TargetKafka {
		c = kafkaConfig()
	}
	c.Now = fixedClock
	c.Seed = 42
	c.DuplicateFraction = 0.05
	c.LateFraction = 0.10
	c.OutOfOrderFraction = 0.15
	c.InvalidFraction = 0.08
	return c
}

func generate(t *testing.T, cfg Config, n int) []Record {
	t.Helper()
	g, err := NewGenerator(cfg)
	require.NoError(t, err)
	return g.Batch(n)
}

func TestNewGeneratorRejectsInvalidConfig(t *testing.T) {
	c := genConfig(TargetHTTP)
	c.ZipfS = 0.9
	_, err := NewGenerator(c)
	require.ErrorContains(t, err, "ZipfS")
}

func TestGeneratorFractions(t *testing.T) {
	const n = 20000
	cases := []struct {
		name                  string
		target                string
		dup, late, ooo, inval float64
	}{
		{name: "kafka mixed", target: TargetKafka, dup: 0.05, late: 0.10, ooo: 0.15, inval: 0.08},
		{name: "http mixed", target: TargetHTTP, dup: 0.05, late: 0.10, ooo: 0.15, inval: 0.08},
		{name: "small shares", target: TargetKafka, dup: 0.01, late: 0.02, ooo: 0.05, inval: 0.01},
		{name: "out of order heavy", target: TargetHTTP, dup: 0.1, late: 0, ooo: 0.6, inval: 0.1},
		{name: "all clean", target: TargetKafka},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := genConfig(tc.target)
			cfg.DuplicateFraction, cfg.LateFraction, cfg.OutOfOrderFraction, cfg.InvalidFraction = tc.dup, tc.late, tc.ooo, tc.inval
			counts := map[Kind]int{}
			for _, r := range generate(t, cfg, n) {
				counts[r.Kind]++
			}
			want := map[Kind]float64{
				KindDuplicate:  tc.dup,
				KindLate:       tc.late,
				KindOutOfOrder: tc.ooo,
				KindInvalid:    tc.inval,
				KindNormal:     1 - tc.dup - tc.late - tc.ooo - tc.inval,
			}
			for kind, f := range want {
				got := float64(counts[kind]) / n
				assert.InDelta(t, f, got, 0.02, "share of %s", kind)
				if f == 0 {
					assert.Zero(t, counts[kind], "no %s records when its fraction is 0", kind)
				}
			}
		})
	}
}

func TestGeneratorRecordsMatchContract(t *testing.T) {
	eventID := regexp.MustCompile(`^42-[0-9]+$`)
	boardRE := regexp.MustCompile(`^board-[0-9]{3}$`)
	playerRE := regexp.MustCompile(`^player-[0-9]{6}$`)
	yesterday := testNow.Truncate(24 * time.Hour).Add(-24 * time.Hour)

	cases := []struct {
		name        string
		target      string
		wantReasons []leaderboard.Reason
	}{
		{name: "kafka", target: TargetKafka, wantReasons: []leaderboard.Reason{
			leaderboard.ReasonMalformedJSON, leaderboard.ReasonInvalidField, leaderboard.ReasonScoreOutOfRange,
			leaderboard.ReasonOccurredAtOutOfRange, leaderboard.ReasonKeyMismatch}},
		{name: "http has no key mismatches", target: TargetHTTP, wantReasons: []leaderboard.Reason{
			leaderboard.ReasonMalformedJSON, leaderboard.ReasonInvalidField, leaderboard.ReasonScoreOutOfRange,
			leaderboard.ReasonOccurredAtOutOfRange}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			recs := generate(t, genConfig(tc.target), 20000)
			reasons := map[leaderboard.Reason]int{}
			seenValues := map[string]string{} // value -> key, for duplicates
			ids := map[string]bool{}
			var negative, withMetadata, lateYesterday, lateToday int
			for i, r := range recs {
				ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{
					Key: r.Key, CheckKey: true, Timestamp: testNow, MaxSkew: 5 * time.Minute,
				})
				assert.Equal(t, testNow, r.Timestamp, "record %d timestamp", i)
				if r.Kind == KindInvalid {
					var inv *leaderboard.InvalidEventError
					require.True(t, errors.As(err, &inv), "record %d (%s) must be rejected: %s", i, r.Reason, r.Value)
					require.Equal(t, r.Reason, inv.Reason, "record %d: %s (%s)", i, r.Value, inv.Message)
					reasons[inv.Reason]++
					continue
				}
				require.NoError(t, err, "record %d (%s): %s", i, r.Kind, r.Value)
				require.Empty(t, r.Reason)
				assert.Regexp(t, boardRE, ev.BoardID)
				assert.Regexp(t, playerRE, ev.PlayerID)
				assert.Regexp(t, eventID, ev.EventID)
				assert.Equal(t, ev.Key(), string(r.Key))

				if r.Kind == KindDuplicate {
					key, ok := seenValues[string(r.Value)]
					require.True(t, ok, "record %d: a duplicate re-sends an earlier record byte for byte", i)
					assert.Equal(t, key, string(r.Key))
					continue
				}
				require.False(t, ids[ev.EventID], "record %d: event id %s reused", i, ev.EventID)
				ids[ev.EventID] = true
				seenValues[string(r.Value)] = string(r.Key)

				assert.True(t, ev.Score >= -50 && ev.Score <= 100 && ev.Score != 0, "score %d", ev.Score)
				if ev.Score < 0 {
					negative++
				}
				if ev.Metadata != nil {
					withMetadata++
				}
				age := testNow.Sub(ev.OccurredAt)
				switch r.Kind {
				case KindLate:
					require.True(t, age >= time.Hour && age < 48*time.Hour, "late event %d is %s old", i, age)
					if ev.OccurredAt.Before(testNow.Truncate(24 * time.Hour)) {
						require.False(t, ev.OccurredAt.Before(yesterday), "late event %d before yesterday", i)
						lateYesterday++
					} else {
						lateToday++
					}
				case KindNormal:
					require.True(t, age >= 0 && age <= maxJitter, "normal event %d is %s old", i, age)
				case KindOutOfOrder:
					require.True(t, age >= 0 && age <= maxJitter+4*time.Second, "out-of-order event %d is %s old", i, age)
				}
			}
			for _, reason := range tc.wantReasons {
				assert.Positive(t, reasons[reason], "some invalid records fail with %s", reason)
			}
			assert.Len(t, reasons, len(tc.wantReasons), "reasons: %v", reasons)
			assert.Positive(t, negative, "some negative scores")
			assert.Less(t, negative, len(ids)/10, "negative scores are occasional")
			assert.Positive(t, withMetadata)
			assert.Positive(t, lateYesterday, "some late events land in yesterday's daily window")
			assert.Positive(t, lateToday, "some late events are hours earlier today")
		})
	}
}

func TestGeneratorOutOfOrderGroupsAreShuffled(t *testing.T) {
	cfg := genConfig(TargetKafka)
	cfg.DuplicateFraction, cfg.LateFraction, cfg.InvalidFraction, cfg.OutOfOrderFraction = 0, 0, 0, 1
	recs := generate(t, cfg, 2000)
	// Every record belongs to a group of 2..4 events of one player sent in
	// an order other than occurred_at order; consecutive groups of the same
	// player form one run, which is then not sorted either.
	runs := 0
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && string(recs[j].Key) == string(recs[i].Key) {
			j++
		}
		if j == len(recs) {
			break // the last group may be cut short by the batch
		}
		run := recs[i:j]
		require.GreaterOrEqual(t, len(run), oooMinGroup, "records %d..%d", i, j)
		times := make([]string, len(run))
		for k, r := range run {
			require.Equal(t, KindOutOfOrder, r.Kind)
			times[k] = occurredAtOf(t, r)
		}
		assert.False(t, sort.StringsAreSorted(times), "records %d..%d are in occurred_at order: %v", i, j, times)
		runs++
		i = j
	}
	assert.Greater(t, runs, 300)
}

func occurredAtOf(t *testing.T, r Record) string {
	t.Helper()
	ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{Timestamp: testNow, MaxSkew: time.Minute})
	require.NoError(t, err)
	return leaderboard.FormatTime(ev.OccurredAt)
}

func TestGeneratorDeterministic(t *testing.T) {
	cases := []struct {
		name     string
		seedA    int64
		seedB    int64
		wantSame bool
	}{
		{name: "same seed, same records", seedA: 7, seedB: 7, wantSame: true},
		{name: "other seed, other records", seedA: 7, seedB: 8, wantSame: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, b := genConfig(TargetKafka), genConfig(TargetKafka)
			a.Seed, b.Seed = tc.seedA, tc.seedB
			ra, rb := generate(t, a, 3000), generate(t, b, 3000)
			same := slices.EqualFunc(ra, rb, func(x, y Record) bool {
				return string(x.Key) == string(y.Key) && string(x.Value) == string(y.Value) && x.Kind == y.Kind
			})
			assert.Equal(t, tc.wantSame, same)
		})
	}
}

func TestGeneratorZipfSkew(t *testing.T) {
	cases := []struct {
		name      string
		zipfS     float64
		minFactor int // top player count >= minFactor x the median count
	}{
		{name: "mild skew 1.1", zipfS: 1.1, minFactor: 50},
		{name: "strong skew 2", zipfS: 2, minFactor: 500},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := genConfig(TargetHTTP)
			cfg.Boards, cfg.Players, cfg.ZipfS = 1, 1000, tc.zipfS
			cfg.DuplicateFraction, cfg.LateFraction, cfg.OutOfOrderFraction, cfg.InvalidFraction = 0, 0, 0, 0
			perPlayer := make(map[string]int, cfg.Players)
			for i := range cfg.Players {
				perPlayer[playerID(i)] = 0
			}
			for _, r := range generate(t, cfg, 20000) {
				ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{Timestamp: testNow, MaxSkew: time.Minute})
				require.NoError(t, err)
				perPlayer[ev.PlayerID]++
			}
			require.Len(t, perPlayer, cfg.Players, "only configured players")
			counts := make([]int, 0, len(perPlayer))
			for _, c := range perPlayer {
				counts = append(counts, c)
			}
			slices.Sort(counts)
			top, median := counts[len(counts)-1], counts[len(counts)/2]
			assert.GreaterOrEqual(t, top, tc.minFactor*max(median, 1), "top %d, median %d", top, median)
		})
	}
}

func TestGeneratorBoardsHaveTheirOwnTopPlayers(t *testing.T) {
	cfg := genConfig(TargetHTTP)
	cfg.Boards, cfg.Players = 3, 500
	cfg.DuplicateFraction, cfg.LateFraction, cfg.OutOfOrderFraction, cfg.InvalidFraction = 0, 0, 0, 0
	counts := map[string]map[string]int{}
	for _, r := range generate(t, cfg, 6000) {
		ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{Timestamp: testNow, MaxSkew: time.Minute})
		require.NoError(t, err)
		if counts[ev.BoardID] == nil {
			counts[ev.BoardID] = map[string]int{}
		}
		counts[ev.BoardID][ev.PlayerID]++
	}
	require.Len(t, counts, 3)
	tops := map[string]bool{}
	for board, players := range counts {
		require.True(t, leaderboard.ValidBoardID(board))
		best, bestN := "", -1
		for p, n := range players {
			if n > bestN || (n == bestN && p < best) {
				best, bestN = p, n
			}
		}
		tops[best] = true
	}
	assert.Len(t, tops, 3, "each board has its own most active player")
}

func TestStatsString(t *testing.T) {
	var s Stats
	s.countSent([]Record{{Kind: KindNormal}, {Kind: KindDuplicate}, {Kind: KindLate}, {Kind: KindOutOfOrder}, {Kind: KindInvalid}})
	s.Accepted.Add(4)
	s.Rejected.Add(1)
	want := StatsSnapshot{Sent: 5, Duplicates: 1, Late: 1, OutOfOrder: 1, Invalid: 1, Accepted: 4, Rejected: 1}
	require.Equal(t, want, s.Snapshot())
	assert.Equal(t, "sent=5 accepted=4 rejected=1 errors=0 duplicates=1 late=1 out_of_order=1 invalid=1", s.String())
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{
		KindNormal: "normal", KindDuplicate: "duplicate", KindLate: "late",
		KindOutOfOrder: "out_of_order", KindInvalid: "invalid", Kind(9): "kind(9)",
	} {
		assert.Equal(t, want, k.String())
	}
}

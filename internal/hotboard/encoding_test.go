package hotboard

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"example.com/leaderboard/internal/leaderboard"
)

func TestNegTotal(t *testing.T) {
	cases := []struct {
		name  string
		total int64
		want  string
	}{
		{"zero is not -0", 0, "0"},
		{"positive", 42, "-42"},
		{"negative", -42, "42"},
		{"max exact", leaderboard.MaxExactTotal, "-9007199254740991"},
		{"min exact", -leaderboard.MaxExactTotal, "9007199254740991"},
		{"max int64", math.MaxInt64, "-9223372036854775807"},
		{"min int64", math.MinInt64, "9223372036854775808"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, negTotal(tc.total))
			if inRange(tc.total) {
				// exact as a double: the sorted-set score round-trips
				f, err := strconv.ParseFloat(tc.want, 64)
				require.NoError(t, err)
				require.Equal(t, -tc.total, int64(f))
			}
		})
	}
}

func TestEncodeMember(t *testing.T) {
	cases := []struct {
		name    string
		st      leaderboard.Standing
		want    string
		wantErr bool
	}{
		{"2000", leaderboard.Standing{PlayerID: "amy", ReachedAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}, "0000946684800000amy", false},
		{"epoch", leaderboard.Standing{PlayerID: "a", ReachedAt: time.UnixMilli(0)}, "0000000000000000a", false},
		{"year 9999", leaderboard.Standing{PlayerID: "a", ReachedAt: time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)}, "0253402300799999a", false},
		{"player with digits and bars", leaderboard.Standing{PlayerID: "12|x", ReachedAt: time.UnixMilli(5)}, "000000000000000512|x", false},
		{"before 1970", leaderboard.Standing{PlayerID: "a", ReachedAt: time.UnixMilli(-1)}, "", true},
		{"beyond 2^53 ms", leaderboard.Standing{PlayerID: "a", ReachedAt: time.UnixMilli(1 << 53)}, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := EncodeMember(tc.st)
			if tc.wantErr {
				require.ErrorIs(t, err, leaderboard.ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			p, at, err := DecodeMember(got)
			require.NoError(t, err)
			require.Equal(t, tc.st.PlayerID, p)
			require.True(t, tc.st.ReachedAt.Equal(at))
		})
	}
}

// Sorting by (score = -total as float64, member bytewise), as a sorted set
// does, gives exactly leaderboard.Less order.
func TestEncodingOrderMatchesLess(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"", "a", "aa", "ab", "b", "B", "Zoë", "Zo", "é", "a\x00", "9", "10"}
	var sts []leaderboard.Standing
	for range 5000 {
		score := int64(rng.IntN(5) - 2)
		switch rng.IntN(10) {
		case 0:
			score = leaderboard.MaxExactTotal - int64(rng.IntN(3))
		case 1:
			score = -leaderboard.MaxExactTotal + int64(rng.IntN(3))
		}
		at := time.Date(2000+rng.IntN(300), 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.IntN(3)) * time.Millisecond)
		sts = append(sts, leaderboard.Standing{PlayerID: names[rng.IntN(len(names))] + strconv.Itoa(rng.IntN(3)), Score: score, ReachedAt: at})
	}
	type zentry struct {
		score  float64
		member string
		st     leaderboard.Standing
	}
	zs := make([]zentry, len(sts))
	for i, st := range sts {
		m, err := EncodeMember(st)
		require.NoError(t, err)
		f, err := strconv.ParseFloat(negTotal(st.Score), 64)
		require.NoError(t, err)
		zs[i] = zentry{f, m, st}
	}
	sort.SliceStable(zs, func(i, j int) bool {
		if zs[i].score != zs[j].score {
			return zs[i].score < zs[j].score
		}
		return zs[i].member < zs[j].member // Go compares strings bytewise, like memcmp
	})
	for i := 1; i < len(zs); i++ {
		a, b := zs[i-1].st, zs[i].st
		require.False(t, leaderboard.Less(b, a), "%v before %v", a, b)
	}
}

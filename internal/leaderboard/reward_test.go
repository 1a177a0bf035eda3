package leaderboard

import (
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTopPercent(t *testing.T) {
	valid := []struct {
		in   string
		want int64
	}{
		{"10", 1000}, {"10.5", 1050}, {"10.50", 1050}, {"10.05", 1005}, {"0.01", 1}, {"0.1", 10},
		{"1", 100}, {"7", 700}, {"99.99", 9999}, {"100", 10000}, {"100.0", 10000}, {"100.00", 10000},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTopPercent(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	invalid := []string{"", "0", "0.0", "0.00", "100.01", "101", "1000", "1e1", "-1", "+5", " 5", "5 ", "05",
		"00.5", ".5", "5.", "10.123", "10.", "1,5", "abc", "0x10", "١٠", "10.5.1", "NaN", "Inf", "99999999999999999999"}
	for _, in := range invalid {
		t.Run("reject "+in, func(t *testing.T) {
			_, err := ParseTopPercent(in)
			require.ErrorIs(t, err, ErrInvalidArgument)
			assert.Contains(t, err.Error(), "top_percent: must be a number in (0, 100] with at most two decimals")
		})
	}
}

func TestTopPercentCut(t *testing.T) {
	tests := []struct {
		name       string
		hundredths int64
		total      int64
		want       int64
	}{
		{"C13 11 players 10%", 1000, 11, 2},
		{"C13 10 players 10%", 1000, 10, 1},
		{"C13 1 player 10%", 1000, 1, 1},
		{"C13 7 players 7%", 700, 7, 1},
		{"C13 7 players 100%", 10000, 7, 7},
		{"empty board", 1000, 0, 0},
		{"exact", 2500, 100, 25},
		{"just over", 2501, 100, 26},
		{"smallest percent of a big board", 1, 1_000_000, 100},
		{"smallest percent, one over", 1, 1_000_001, 101},
		{"huge board", 3333, math.MaxInt64, 3074149899883696777},
		{"whole huge board", 10000, math.MaxInt64, math.MaxInt64},
		{"clamped low", 0, 10, 0},
		{"clamped high", 20000, 10, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, TopPercentCut(tt.hundredths, tt.total))
		})
	}
}

func TestTopPercentCutMatchesBigArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for i := 0; i < 20000; i++ {
		h := 1 + rng.Int64N(10000)
		total := rng.Int64N(1000)
		if i%2 == 0 {
			total = rng.Int64() // up to MaxInt64
		}
		num := new(big.Int).Mul(big.NewInt(h), big.NewInt(total))
		num.Add(num, big.NewInt(9999))
		want := num.Quo(num, big.NewInt(10000))
		got := TopPercentCut(h, total)
		require.Equal(t, want.Int64(), got, "h=%d total=%d", h, total)
		require.LessOrEqual(t, got, total)
		if total > 0 {
			require.GreaterOrEqual(t, got, int64(1), "a non-empty board keeps at least one rank")
		}
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		name        string
		rank, total int64
		want        string
	}{
		{"C12 p01 of 10", 1, 10, "90.0"},
		{"C12 p05 of 10", 5, 10, "50.0"},
		{"C12 p10 of 10", 10, 10, "0.0"},
		{"contract example 17 of 1234", 17, 1234, "98.6"},
		{"single player", 1, 1, "0.0"},
		{"exact half", 1, 8, "87.5"},
		{"half up at the second decimal", 1, 16, "93.8"},
		{"half up again", 3, 16, "81.3"},
		{"just below half rounds down", 1, 3, "66.7"},
		{"rounds up to 100.0", 1, 2000, "100.0"},
		{"just under 100", 1, 1999, "99.9"},
		{"rank clamped low", 0, 10, "90.0"},
		{"rank clamped high", 11, 10, "0.0"},
		{"empty board", 1, 0, "0.0"},
		{"huge board", 1, math.MaxInt64, "100.0"},
		{"huge board middle", math.MaxInt64 / 2, math.MaxInt64, "50.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Percentile(tt.rank, tt.total)
			assert.Equal(t, tt.want, p.String())
			b, err := json.Marshal(p)
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b))
		})
	}
}

func TestPercentileMatchesBigArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for i := 0; i < 20000; i++ {
		total := 1 + rng.Int64N(5000)
		if i%2 == 0 {
			total = 1 + rng.Int64N(math.MaxInt64)
		}
		rank := 1 + rng.Int64N(total)
		// round half up of 1000(total-rank)/total = floor((2000(total-rank) + total) / (2 total))
		num := new(big.Int).Mul(big.NewInt(2000), big.NewInt(total-rank))
		num.Add(num, big.NewInt(total))
		den := new(big.Int).Mul(big.NewInt(2), big.NewInt(total))
		want := num.Quo(num, den)
		require.Equal(t, want.Int64(), int64(Percentile(rank, total)), "rank=%d total=%d", rank, total)
	}
}

func TestTenthsJSON(t *testing.T) {
	tests := []struct {
		value Tenths
		json  string
	}{
		{0, "0.0"}, {5, "0.5"}, {900, "90.0"}, {986, "98.6"}, {1000, "100.0"}, {-5, "-0.5"}, {-15, "-1.5"},
		{math.MaxInt64, "922337203685477580.7"}, {math.MinInt64, "-922337203685477580.8"},
	}
	for _, tt := range tests {
		t.Run(tt.json, func(t *testing.T) {
			b, err := json.Marshal(tt.value)
			require.NoError(t, err)
			assert.Equal(t, tt.json, string(b))
			if tt.value > math.MinInt64/2 && tt.value < math.MaxInt64/2 {
				var back Tenths
				require.NoError(t, json.Unmarshal(b, &back))
				assert.Equal(t, tt.value, back)
			}
		})
	}
	var v Tenths
	require.NoError(t, json.Unmarshal([]byte("90"), &v))
	assert.Equal(t, Tenths(900), v)
	for _, bad := range []string{"98.65", "1e2", `"9.0"`, "09.0", ".5", "5.", "-", "null"} {
		assert.Error(t, json.Unmarshal([]byte(bad), &v), bad)
	}
	// Inside a struct, as the API writes it.
	b, err := json.Marshal(struct {
		Percentile Tenths `json:"percentile"`
	}{986})
	require.NoError(t, err)
	assert.JSONEq(t, `{"percentile": 98.6}`, string(b))
	assert.Equal(t, `{"percentile":98.6}`, string(b))
}

package leaderboard

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheckTotal(t *testing.T) {
	tests := []struct {
		name  string
		total int64
		ok    bool
	}{
		{"zero", 0, true},
		{"max", MaxExactTotal, true},
		{"min", -MaxExactTotal, true},
		{"max plus one", MaxExactTotal + 1, false},
		{"min minus one", -MaxExactTotal - 1, false},
		{"int64 max", math.MaxInt64, false},
		{"int64 min", math.MinInt64, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckTotal(tt.total)
			if tt.ok {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, ErrTotalOutOfRange)
		})
	}
	// The bound is where float64 stops being exact.
	assert.Equal(t, float64(MaxExactTotal), float64(MaxExactTotal-1)+1)
	assert.Equal(t, float64(MaxExactTotal+1), float64(MaxExactTotal+2))
}

package leaderboard

import (
	"fmt"
	"math/bits"
	"strconv"
)

// Reward partitions and percentiles (contract section 4), in exact integer
// arithmetic: a rounding error here changes who is paid.

// errTopPercent is the one message for every malformed top_percent.
var errTopPercent = fmt.Errorf("%w: top_percent: must be a number in (0, 100] with at most two decimals", ErrInvalidArgument)

// ParseTopPercent parses the top_percent parameter into hundredths of a
// percent (1..10000). Accepted: 0 < P <= 100 written as
// (0|[1-9][0-9]*)(\.[0-9]{1,2})?, e.g. "10", "10.5", "0.01", "100.00".
// Rejected: "0", "0.00", "100.01", "1e1", "-1", "+5", " 5", "05", ".5",
// "5.", "10.123", "".
func ParseTopPercent(s string) (int64, error) {
	whole, frac := s, ""
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
			if len(frac) < 1 || len(frac) > 2 {
				return 0, errTopPercent
			}
			break
		}
	}
	// At most three integer digits ("100"), no leading zero except "0" itself.
	if len(whole) < 1 || len(whole) > 3 || (len(whole) > 1 && whole[0] == '0') {
		return 0, errTopPercent
	}
	w, ok := digitsValue(whole)
	f, okf := digitsValue(frac)
	if !ok || !okf {
		return 0, errTopPercent
	}
	if len(frac) == 1 {
		f *= 10
	}
	h := int64(w*100 + f)
	if h < 1 || h > 10000 {
		return 0, errTopPercent
	}
	return h, nil
}

// TopPercentCut returns how many ranks top_percent keeps:
// ceil(hundredths × total / 10000), exactly, for any total (no overflow).
// hundredths is what ParseTopPercent returns; outside 1..10000 it is clamped
// (<= 0 keeps nothing, >= 10000 keeps everyone). A total <= 0 gives 0.
func TopPercentCut(hundredths, total int64) int64 {
	if total <= 0 || hundredths <= 0 {
		return 0
	}
	if hundredths >= 10000 {
		return total
	}
	// total = q×10000 + r, so h×total/10000 = h×q + h×r/10000 where h×q <=
	// total and h×r < 10^8: nothing overflows.
	q, r := total/10000, total%10000
	return hundredths*q + (hundredths*r+9999)/10000
}

// Tenths is a number with exactly one decimal, held as an integer count of
// tenths (986 is 98.6). It marshals as a JSON number with one decimal.
type Tenths int64

// String formats t with exactly one decimal: "98.6", "0.0", "-0.5".
func (t Tenths) String() string {
	v := int64(t)
	sign := ""
	u := uint64(v)
	if v < 0 {
		sign, u = "-", uint64(-v) // -MinInt64 wraps to itself, read as uint64 it is right
	}
	return sign + strconv.FormatUint(u/10, 10) + "." + strconv.FormatUint(u%10, 10)
}

// MarshalJSON writes t as a JSON number with exactly one decimal, e.g. 90.0.
func (t Tenths) MarshalJSON() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalJSON reads a JSON number with at most one decimal ("98.6", "90",
// "-0.5"); anything else is an error, never a rounding.
func (t *Tenths) UnmarshalJSON(b []byte) error {
	s := string(b)
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	whole, frac := s, "0"
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			whole, frac = s[:i], s[i+1:]
			break
		}
	}
	w, okw := digitsValue(whole)
	f, okf := digitsValue(frac)
	if !okw || !okf || len(whole) < 1 || len(whole) > 17 || len(frac) != 1 ||
		(len(whole) > 1 && whole[0] == '0') {
		return fmt.Errorf("tenths: %q is not a number with at most one decimal", b)
	}
	v := int64(w)*10 + int64(f)
	if neg {
		v = -v
	}
	*t = Tenths(v)
	return nil
}

// Percentile of the player at rank among total ranked players:
// 100 × (total − rank) / total, rounded half up to one decimal, exactly.
// rank is clamped to 1..total; a total <= 0 gives 0.
//
// Rounding half up means rank 1 of 2000 (99.95) is 100.0.
func Percentile(rank, total int64) Tenths {
	if total <= 0 {
		return 0
	}
	rank = min(max(rank, 1), total)
	// tenths = round(1000 × n / total) with n = total − rank < total, in 128
	// bits: 1000 × n < 2^64 × total, so the high word is below total, as
	// bits.Div64 requires.
	n := uint64(total - rank)
	hi, lo := bits.Mul64(1000, n)
	quo, rem := bits.Div64(hi, lo, uint64(total))
	if rem >= uint64(total)-rem { // rem/total >= 1/2
		quo++
	}
	return Tenths(quo)
}

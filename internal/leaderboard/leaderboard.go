// Package leaderboard is the domain of the service: score events and their
// validation, windows, aggregation, the ranking order that decides who is paid,
// reward cuts and the errors every adapter maps from. It imports no
// infrastructure: Kafka, ClickHouse, Valkey and HTTP adapters depend on it,
// never the reverse.
package leaderboard

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters wrap them with %w; the HTTP layer maps them to
// status codes in one place.
var (
	ErrInvalidArgument = errors.New("invalid argument")
	ErrNotFound        = errors.New("not found")
	ErrConflict        = errors.New("conflict")
	ErrTotalOutOfRange = errors.New("total out of range")
	ErrNotCached       = errors.New("not cached")
	ErrUnavailable     = errors.New("dependency unavailable")
	ErrUnauthorized    = errors.New("unauthorized")
	ErrPayloadTooLarge = errors.New("payload too large")
)

// MaxExactTotal is the largest magnitude a window total may reach: beyond it a
// float64 (what sorted sets and JSON clients use) is no longer exact.
const MaxExactTotal = 1<<53 - 1

// MaxEventScore bounds a single event's score (contract section 1).
const MaxEventScore = 1_000_000_000_000

// CheckTotal reports whether a window total can be served exactly: it returns
// an error wrapping ErrTotalOutOfRange when |total| > MaxExactTotal (contract
// section 4: such a window answers 422 total_out_of_range, never a rounded
// number).
func CheckTotal(total int64) error {
	if total > MaxExactTotal || total < -MaxExactTotal {
		return fmt.Errorf("%w: total %d is outside ±(2^53-1)", ErrTotalOutOfRange, total)
	}
	return nil
}

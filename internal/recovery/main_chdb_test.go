//go:build chdb

package recovery_test

import (
	"testing"

	"example.com/leaderboard/internal/stacktest"
)

// The embedded ClickHouse is stopped before the binary exits.
func TestMain(m *testing.M) { stacktest.Main(m) }

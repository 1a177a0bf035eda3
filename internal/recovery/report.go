package recovery

import (
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// Result is what one rebuild did.
type Result struct {
	Board  string
	Window leaderboard.Window
	// Players is the number of ranked players of the rebuilt window.
	Players int64
	// Positions are the offsets (per partition, next to consume) the
	// rebuilt board was computed at: it holds exactly the board's records
	// below them; the consumer applies every record from there.
	Positions map[int32]int64
	// Changed is the number of players brought in by the second phase (the
	// records consumed while the first phase ran).
	Changed int64
	// SeededMarks is the number of identity marks written from ClickHouse
	// (only after Valkey lost the board's marks).
	SeededMarks int64
	// Attempts is the number of tries (a try is repeated when the hot store
	// applied records of the board beyond the snapshot: another replica).
	Attempts int
	Took     time.Duration
	// Paused is how long the service's consumer waited for the second
	// phase (the last attempt's).
	Paused time.Duration
}

// Check is the comparison of one hot window with ClickHouse at the hot
// board's positions.
type Check struct {
	Board  string
	Window leaderboard.Window
	// Positions are the hot board's watermarks the two sides were read at.
	Positions map[int32]int64
	// HotPlayers and ClickHousePlayers are the ranked players on each side.
	HotPlayers, ClickHousePlayers int64
	// TopMatch and BoardMatch: the digests of the top N entries and of the
	// whole ranking are equal.
	TopMatch, BoardMatch bool
	// NeedsRebuild: the hot board holds an event it could not apply exactly.
	NeedsRebuild bool
	// Inconsistent: the hot window's keys disagree (hotboard.ErrInconsistent);
	// nothing was compared.
	Inconsistent bool
	// Repaired: the window differed, was rebuilt, and a second check found
	// no difference. Unrepaired: it still differs (or the rebuild failed;
	// Error says why).
	Repaired, Unrepaired bool
	Error                string
}

// Differs reports whether the two sides differ.
func (c Check) Differs() bool {
	return c.NeedsRebuild || c.Inconsistent || c.HotPlayers != c.ClickHousePlayers || !c.TopMatch || !c.BoardMatch
}

// Report is one reconciliation run.
type Report struct {
	Started    time.Time
	Took       time.Duration
	Checked    int // hot windows compared
	NotCached  int // hot windows of active boards not in Valkey (nothing to compare)
	Loaded     int // of those, loaded from ClickHouse by this run
	Differing  int // windows that differed at first
	Repaired   int
	Unrepaired int
	Checks     []Check // the windows that differed, and any that failed
}

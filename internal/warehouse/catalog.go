package warehouse

import (
	"context"
	"sync"
	"time"

	"example.com/leaderboard/internal/leaderboard"
)

// BoardLookup reads one board's defined aggregation.
type BoardLookup interface {
	BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error)
}

// Catalog caches board aggregations for the consumer, which asks for every
// batch. A defined aggregation never changes once the board has events
// (PUT answers 409), so positive answers are kept; "not defined" (sum) is
// re-read after a while so a board defined ahead of its first event is seen.
type Catalog struct {
	lookup BoardLookup
	ttl    time.Duration
	now    func() time.Time

	mu      sync.Mutex
	defined map[string]leaderboard.Aggregation
	missing map[string]time.Time
}

// NewCatalog returns a cache over lookup; undefined boards are re-read after ttl.
func NewCatalog(lookup BoardLookup, ttl time.Duration) *Catalog {
	return &Catalog{lookup: lookup, ttl: ttl, now: time.Now,
		defined: map[string]leaderboard.Aggregation{}, missing: map[string]time.Time{}}
}

// Aggregation returns the board's aggregation, sum when it was never defined.
func (c *Catalog) Aggregation(ctx context.Context, board string) (leaderboard.Aggregation, error) {
	c.mu.Lock()
	if a, ok := c.defined[board]; ok {
		c.mu.Unlock()
		return a, nil
	}
	if at, ok := c.missing[board]; ok && c.now().Sub(at) < c.ttl {
		c.mu.Unlock()
		return leaderboard.Sum, nil
	}
	c.mu.Unlock()

	a, ok, err := c.lookup.BoardAggregation(ctx, board)
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !ok {
		c.missing[board] = c.now()
		return leaderboard.Sum, nil
	}
	c.defined[board] = a
	delete(c.missing, board)
	return a, nil
}

// Define records a definition just written, so this instance sees it at once.
func (c *Catalog) Define(board string, a leaderboard.Aggregation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.defined[board] = a
	delete(c.missing, board)
}

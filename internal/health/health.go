// Package health probes the service's dependencies in the background and
// keeps the latest status and latency of each, so /health answers at once
// and a dependency that goes away is reported within one probe interval.
package health

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Probe checks one dependency; nil means up.
type Probe func(ctx context.Context) error

// Status of one dependency.
type Status struct {
	Up        bool
	LatencyMS float64
	Error     string
	CheckedAt time.Time
}

// Checker runs its probes every interval.
type Checker struct {
	interval time.Duration
	timeout  time.Duration
	names    []string
	probes   map[string]Probe

	mu     sync.RWMutex
	status map[string]Status
	onDown func(name string, err error)
}

// New returns a Checker for the named probes. Every probe starts as down
// until its first answer.
func New(interval time.Duration, probes map[string]Probe) *Checker {
	c := &Checker{
		interval: interval,
		timeout:  interval,
		probes:   probes,
		status:   make(map[string]Status, len(probes)),
	}
	if c.timeout < time.Second {
		c.timeout = time.Second
	}
	for name := range probes {
		c.names = append(c.names, name)
		c.status[name] = Status{Error: "not checked yet"}
	}
	sort.Strings(c.names)
	return c
}

// OnChange sets a callback called when a dependency goes down or comes back
// (err nil); used for logs and metrics.
func (c *Checker) OnChange(fn func(name string, err error)) { c.onDown = fn }

// Run probes until ctx ends. It probes once before waiting.
func (c *Checker) Run(ctx context.Context) {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		c.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow runs every probe once, concurrently.
func (c *Checker) CheckNow(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range c.names {
		wg.Add(1)
		go func(name string, p Probe) {
			defer wg.Done()
			pctx, cancel := context.WithTimeout(ctx, c.timeout)
			defer cancel()
			start := time.Now()
			err := p(pctx)
			st := Status{Up: err == nil, LatencyMS: float64(time.Since(start).Microseconds()) / 1000, CheckedAt: time.Now()}
			if err != nil {
				st.Error = err.Error()
			}
			c.mu.Lock()
			was := c.status[name]
			c.status[name] = st
			c.mu.Unlock()
			if c.onDown != nil && (was.Up != st.Up || was.CheckedAt.IsZero()) {
				c.onDown(name, err)
			}
		}(name, c.probes[name])
	}
	wg.Wait()
}

// Snapshot returns the latest status of every dependency.
func (c *Checker) Snapshot() map[string]Status {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string]Status, len(c.status))
	for k, v := range c.status {
		out[k] = v
	}
	return out
}

// Up reports whether the named dependency answered its last probe.
func (c *Checker) Up(name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.status[name].Up
}

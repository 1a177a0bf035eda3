package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/config"
	"example.com/leaderboard/internal/hotboard"
)

// feedKey marks a Valkey that has been fed by the consumer group from the
// beginning of the topic without losing data since. Only such a Valkey may
// create a missing hot board from events: elsewhere a missing board could
// lack earlier events, and reads go to ClickHouse until it is rebuilt.
const feedKey = "lb:feed"

// aliveKey tells the running service that Valkey kept its data since the
// feed state was decided.
const aliveKey = "lb:alive"

// feedGate decides, before the consumer starts and on every Valkey probe,
// whether hot boards may be created.
type feedGate struct {
	vk      valkey.Client
	hot     *hotboard.Store
	adm     *kadm.Client
	cfg     config.Config
	log     *slog.Logger
	decided atomic.Bool
	// lost: Valkey lost its data (at start or since); lossCh is signalled
	// when a loss is noticed while the service runs.
	lost   atomic.Bool
	lossCh chan struct{}
}

// decide sets hot-board creation on or off, retrying until Valkey and Kafka
// answer or ctx ends.
func (f *feedGate) decide(ctx context.Context) error {
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		err := f.decideOnce(ctx)
		if err == nil {
			f.decided.Store(true)
			return nil
		}
		f.log.Warn("cannot check the hot store's feed state yet; retrying", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

func (f *feedGate) decideOnce(ctx context.Context) error {
	// aliveKey written by an earlier run and still there: Valkey kept its
	// data since that run decided (read before writing it again).
	kept, err := f.vk.Do(ctx, f.vk.B().Exists().Key(aliveKey).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("valkey: %w", err)
	}
	if err := f.vk.Do(ctx, f.vk.B().Set().Key(aliveKey).Value("1").Build()).Error(); err != nil {
		return fmt.Errorf("valkey: %w", err)
	}
	n, err := f.vk.Do(ctx, f.vk.B().Exists().Key(feedKey).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("valkey: %w", err)
	}
	if n == 1 {
		f.hot.SetCreateMissing(true)
		return nil
	}
	// The group's offsets alone (no topic metadata, which the admin client
	// caches: a topic created a moment ago could still read as missing).
	resp, err := f.adm.FetchOffsets(ctx, f.cfg.ConsumerGroup)
	if err != nil {
		return fmt.Errorf("kafka: committed offsets of %s: %w", f.cfg.ConsumerGroup, err)
	}
	consumed := false
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == f.cfg.Topic && o.Err == nil && o.At > 0 {
			consumed = true
		}
	})
	if consumed {
		// No continuous feed: windows are created only under a board's
		// complete_from, and feed-created ones are not trusted (one made
		// between a loss and its detection may be partial).
		f.hot.SetCreateMissing(false)
		f.hot.DistrustFeedCreated()
		if kept == 1 {
			// A loss an earlier run already handled: its rebuilt windows
			// are good, the warm-up only fills in what is missing.
			f.log.Info("valkey lost its data before an earlier run and kept it since: " +
				"hot windows not rebuilt since are answered from ClickHouse until the warm-up or a read rebuilds them")
			return nil
		}
		f.lost.Store(true)
		f.log.Warn("valkey has lost the hot boards (no feed marker, but the consumer group has committed offsets): " +
			"missing hot boards are not created from new events and reads fall back to ClickHouse until they are rebuilt")
		return nil
	}
	// A fresh group reads the topic from its start: Valkey will see every record.
	if err := f.vk.Do(ctx, f.vk.B().Set().Key(feedKey).Value(time.Now().UTC().Format(time.RFC3339)).Build()).Error(); err != nil {
		return fmt.Errorf("valkey: %w", err)
	}
	f.hot.SetCreateMissing(true)
	return nil
}

// probe is the Valkey health probe; it also notices a Valkey that lost its
// data while the service runs (flush, restart without persistence).
func (f *feedGate) probe(ctx context.Context) error {
	n, err := f.vk.Do(ctx, f.vk.B().Exists().Key(feedKey).Build()).AsInt64()
	if err != nil {
		return err
	}
	if !f.decided.Load() {
		return nil
	}
	if n == 0 {
		f.hot.SetCreateMissing(false)
	}
	_, err = f.kept(ctx)
	return err
}

// kept reports whether Valkey kept its data since the feed state was
// decided: aliveKey, written then, is still there. Finding it gone means
// Valkey lost its data since (a flush, a restart without persistence),
// however many times that happens; the loss is handled before kept returns
// (hotboard.Store.SetKeptCheck relies on it), and only then is the key
// written again, so whoever finds it present sees the handled state.
func (f *feedGate) kept(ctx context.Context) (bool, error) {
	if !f.decided.Load() {
		return true, nil // creation is still off and no window is trusted from the feed yet
	}
	n, err := f.vk.Do(ctx, f.vk.B().Exists().Key(aliveKey).Build()).AsInt64()
	if err != nil {
		return false, err
	}
	if n == 1 {
		return true, nil
	}
	f.hot.SetCreateMissing(false)
	f.hot.DistrustFeedCreated()
	f.lost.Store(true)
	// Several callers may notice the same loss: the one that writes the key
	// again asks for the warm-up.
	err = f.vk.Do(ctx, f.vk.B().Set().Key(aliveKey).Value("1").Nx().Build()).Error()
	if valkey.IsValkeyNil(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	select {
	case f.lossCh <- struct{}{}:
	default:
	}
	return false, nil
}

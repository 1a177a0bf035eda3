// Package ingest moves score events between Kafka and the stores: the
// service's consumer group (validate, dead-letter the invalid, apply the
// valid to the hot boards in Valkey exactly once, then commit) and the
// producer behind POST /events.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/leaderboard"
)

// HotStore is what the consumer needs of the hot boards.
type HotStore interface {
	Apply(ctx context.Context, board string, agg leaderboard.Aggregation, items []hotboard.Item, now time.Time) ([]hotboard.Outcome, error)
	BoardAggregation(ctx context.Context, board string) (leaderboard.Aggregation, bool, error)
}

// Aggregations tells the aggregation of a board (sum for a board nobody
// defined).
type Aggregations interface {
	Aggregation(ctx context.Context, board string) (leaderboard.Aggregation, error)
}

// ConsumerConfig configures a Consumer.
type ConsumerConfig struct {
	Brokers      []string
	Topic        string
	Group        string
	MaxClockSkew time.Duration
	// MaxPollRecords bounds one batch (default 2000): with the blocking
	// poll loop it is also the bound on records in flight.
	MaxPollRecords int
	// ApplyChunk bounds the items of one atomic Valkey step (default 500).
	ApplyChunk int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// AfterApply, when set, runs after a batch is applied and before its
	// offsets are committed; tests use it to crash there.
	AfterApply func(ctx context.Context, records []*kgo.Record)
}

// Consumer is the service's consumer group on the score-event topic.
type Consumer struct {
	cfg     ConsumerConfig
	log     *slog.Logger
	cl      *kgo.Client
	hot     HotStore
	aggs    Aggregations
	metrics *Metrics

	// stuck holds why the consumer is retrying a failing step, "" otherwise.
	stuck atomic.Value

	// turn is held while a batch is applied and committed, and by
	// Exclusive: a step run between batches sees every applied record
	// committed and none being applied.
	turn chan struct{}

	runMu    sync.Mutex
	stopped  bool
	started  bool
	stopPoll context.CancelFunc
	done     chan struct{}
}

// NewConsumer builds the consumer; Run starts it.
func NewConsumer(cfg ConsumerConfig, log *slog.Logger, hot HotStore, aggs Aggregations, m *Metrics) (*Consumer, error) {
	if cfg.MaxPollRecords <= 0 {
		cfg.MaxPollRecords = 2000
	}
	if cfg.ApplyChunk <= 0 {
		cfg.ApplyChunk = 500
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Consumer{cfg: cfg, log: log, hot: hot, aggs: aggs, metrics: m, done: make(chan struct{}), turn: make(chan struct{}, 1)}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		// No rebalance between a poll and its commit: a partition is never
		// handed to another member with applied but uncommitted records.
		kgo.BlockRebalanceOnPoll(),
		kgo.RequireStableFetchOffsets(),
		kgo.FetchMaxWait(250*time.Millisecond),
		kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {}),
		// The DLQ is written by the same client, acks=all and idempotent.
		kgo.RecordRetries(10),
		kgo.ProduceRequestTimeout(10*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	c.cl = cl
	return c, nil
}

// Run polls, applies and commits until Stop. Failures of Valkey or of the
// DLQ are retried with backoff while fetching is paused; nothing is
// committed before it is applied.
func (c *Consumer) Run(ctx context.Context) {
	pollCtx, stop := context.WithCancel(ctx)
	defer stop()
	c.runMu.Lock()
	if c.stopped || c.started {
		c.runMu.Unlock()
		return
	}
	c.started, c.stopPoll = true, stop
	c.runMu.Unlock()
	defer close(c.done)
	// Stop cancels only pollCtx: the batch in hand is finished and committed
	// with ctx, which ends only on a hard stop.
	work := ctx

	for {
		fetches := c.cl.PollRecords(pollCtx, c.cfg.MaxPollRecords)
		if fetches.IsClientClosed() || pollCtx.Err() != nil {
			c.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("kafka fetch error", "topic", topic, "partition", p, "err", err)
			}
		})
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if n := len(p.Records); n > 0 {
				last := p.Records[n-1].Offset
				c.metrics.lag.WithLabelValues(strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - last - 1))
			}
		})
		records := fetches.Records()
		if len(records) == 0 {
			c.cl.AllowRebalance()
			continue
		}
		select {
		case c.turn <- struct{}{}:
		case <-pollCtx.Done():
			// stopping while a rebuild holds the turn: nothing of the
			// batch was applied or committed; it is redelivered
			c.cl.AllowRebalance()
			return
		}
		err := c.handle(work, records)
		<-c.turn
		if err != nil {
			// Only a hard stop gets here: nothing of the batch is committed,
			// and redelivery is harmless (watermarks, identity marks).
			c.cl.AllowRebalance()
			return
		}
		c.cl.AllowRebalance()
	}
}

// Exclusive runs fn between two batches: every record the consumer has
// applied is committed, and no record is applied until fn returns (fetched
// records wait in memory, rebalances wait too). A rebuild uses it for its
// short last step, so its snapshot positions are exactly what the hot store
// has applied. fn must be bounded: ctx should carry a deadline.
func (c *Consumer) Exclusive(ctx context.Context, fn func(context.Context) error) error {
	select {
	case c.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.turn }()
	return fn(ctx)
}

// Health reports an error while the consumer is paused on a failing step
// (for /health: records are not being applied).
func (c *Consumer) Health(context.Context) error {
	if s, _ := c.stuck.Load().(string); s != "" {
		return errors.New(s)
	}
	return nil
}

// Stop stops fetching, lets the batch in hand finish and commit, then closes
// the client. ctx bounds the wait.
func (c *Consumer) Stop(ctx context.Context) error {
	c.runMu.Lock()
	c.stopped = true
	started := c.started
	if c.stopPoll != nil {
		c.stopPoll()
	}
	c.runMu.Unlock()
	if !started {
		c.cl.Close()
		return nil
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		c.cl.Close()
		return fmt.Errorf("consumer stop: %w", ctx.Err())
	}
	c.cl.Close()
	return nil
}

// handle dead-letters the invalid records, applies the valid ones and
// commits, retrying each step until it succeeds or ctx ends.
func (c *Consumer) handle(ctx context.Context, records []*kgo.Record) error {
	start := time.Now()
	c.metrics.consumed.Add(float64(len(records)))
	var (
		dlq     []*kgo.Record
		boards  []string
		byBoard = map[string][]hotboard.Item{}
		tsOf    = map[string][]time.Time{}
	)
	for _, r := range records {
		ev, err := leaderboard.ParseEvent(r.Value, leaderboard.RecordContext{
			Key: r.Key, CheckKey: true, Timestamp: r.Timestamp, MaxSkew: c.cfg.MaxClockSkew,
		})
		var inv *leaderboard.InvalidEventError
		if errors.As(err, &inv) {
			c.metrics.rejected.WithLabelValues(string(inv.Reason)).Inc()
			dlq = append(dlq, deadLetter(r, inv))
			continue
		}
		if err != nil {
			return err
		}
		if _, ok := byBoard[ev.BoardID]; !ok {
			boards = append(boards, ev.BoardID)
		}
		byBoard[ev.BoardID] = append(byBoard[ev.BoardID], hotboard.Item{Partition: r.Partition, Offset: r.Offset, Event: ev})
		tsOf[ev.BoardID] = append(tsOf[ev.BoardID], r.Timestamp)
	}

	if len(dlq) > 0 {
		if err := c.retry(ctx, "dlq", func(ctx context.Context) error {
			return c.cl.ProduceSync(ctx, dlq...).FirstErr()
		}); err != nil {
			return err
		}
		c.metrics.dlqProduced.Add(float64(len(dlq)))
	}

	for _, board := range boards {
		var agg leaderboard.Aggregation
		if err := c.retry(ctx, "aggregation", func(ctx context.Context) (err error) {
			agg, err = c.aggs.Aggregation(ctx, board)
			if err != nil {
				// ClickHouse unreachable: a board the hot store already
				// holds keeps the aggregation it was built with, so hot
				// boards stay live; a new board waits for its definition.
				if hot, ok, herr := c.hot.BoardAggregation(ctx, board); herr == nil && ok {
					agg, err = hot, nil
				}
			}
			return err
		}); err != nil {
			return err
		}
		items, stamps := byBoard[board], tsOf[board]
		for lo := 0; lo < len(items); lo += c.cfg.ApplyChunk {
			hi := min(lo+c.cfg.ApplyChunk, len(items))
			var outcomes []hotboard.Outcome
			if err := c.retry(ctx, "apply", func(ctx context.Context) (err error) {
				outcomes, err = c.hot.Apply(ctx, board, agg, items[lo:hi], c.cfg.Now())
				if errors.Is(err, leaderboard.ErrConflict) {
					// The board was defined with another aggregation after
					// its first events reached Valkey (PUT checks, but a
					// record can be in flight). A partition must never
					// block: keep the aggregation the hot board has, and
					// say so; ClickHouse follows the definition, so the two
					// stores differ for this board until it is rebuilt.
					if hot, ok, herr := c.hot.BoardAggregation(ctx, board); herr == nil && ok && hot != agg {
						c.log.Error("board definition changed after its first events: the hot store keeps its aggregation",
							"board", board, "hot", hot, "defined", agg)
						c.metrics.aggConflicts.Inc()
						agg = hot
						outcomes, err = c.hot.Apply(ctx, board, agg, items[lo:hi], c.cfg.Now())
					}
				}
				return err
			}); err != nil {
				return err
			}
			now := c.cfg.Now()
			for i, o := range outcomes {
				c.metrics.outcomes.WithLabelValues(string(o.Kind)).Inc()
				if o.Kind == hotboard.OutcomeApplied {
					c.metrics.freshness.Observe(now.Sub(items[lo+i].Event.OccurredAt).Seconds())
					c.metrics.produceLag.Observe(now.Sub(stamps[lo+i]).Seconds())
				}
				if o.Kind == hotboard.OutcomeConflict {
					ev := items[lo+i].Event
					c.log.Warn("conflicting event ignored: the earlier record wins", "board", ev.BoardID, "player", ev.PlayerID,
						"event_id", ev.EventID, "partition", items[lo+i].Partition, "offset", items[lo+i].Offset)
				}
			}
		}
	}
	c.metrics.applyTime.Observe(time.Since(start).Seconds())

	if c.cfg.AfterApply != nil {
		c.cfg.AfterApply(ctx, records)
	}
	if err := c.retry(ctx, "commit", func(ctx context.Context) error {
		return c.cl.CommitRecords(ctx, records...)
	}); err != nil {
		return err
	}
	return nil
}

// retry runs fn until it succeeds, pausing fetches while it fails so no
// more records pile up in memory.
func (c *Consumer) retry(ctx context.Context, step string, fn func(context.Context) error) error {
	paused := false
	defer func() {
		if paused {
			c.stuck.Store("")
			c.cl.ResumeFetchTopics(c.cfg.Topic)
			c.metrics.paused.Set(0)
			c.log.Info("consumer resumed", "step", step)
		}
	}()
	for delay := 100 * time.Millisecond; ; delay = min(delay*2, 5*time.Second) {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := fn(sctx)
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, leaderboard.ErrInvalidArgument) || errors.Is(err, leaderboard.ErrConflict) {
			// A rejected batch will be rejected again: stop loudly rather
			// than skip records.
			c.log.Error("batch rejected by the hot store; retrying will not help, fix the cause", "step", step, "err", err)
		}
		c.stuck.Store(fmt.Sprintf("paused: %s failing: %v", step, err))
		if !paused {
			paused = true
			c.cl.PauseFetchTopics(c.cfg.Topic)
			c.metrics.paused.Set(1)
			c.log.Warn("consumer paused: store failing, retrying with backoff", "step", step, "err", err)
		}
		c.metrics.retries.WithLabelValues(step).Inc()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// deadLetter is the DLQ copy of an invalid record: original key and bytes,
// and the contract's headers.
func deadLetter(r *kgo.Record, inv *leaderboard.InvalidEventError) *kgo.Record {
	return &kgo.Record{
		Topic: r.Topic + ".dlq",
		Key:   r.Key,
		Value: r.Value,
		Headers: []kgo.RecordHeader{
			{Key: "reason", Value: []byte(inv.Reason)},
			{Key: "source-partition", Value: []byte(strconv.Itoa(int(r.Partition)))},
			{Key: "source-offset", Value: []byte(strconv.FormatInt(r.Offset, 10))},
			{Key: "message", Value: []byte(inv.Message)},
		},
	}
}

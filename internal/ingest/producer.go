package ingest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/leaderboard"
)

// Producer writes validated events to the score-event topic with an
// idempotent producer (acks=all), keyed "<board>:<player>" so a player's
// events keep their order on one partition.
type Producer struct {
	cl      *kgo.Client
	topic   string
	timeout time.Duration
}

// NewProducer builds the producer. Kafka need not be reachable yet.
// deliveryTimeout bounds how long a request waits for Kafka to take its
// records before answering 503.
func NewProducer(brokers []string, topic string, deliveryTimeout time.Duration) (*Producer, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.DefaultProduceTopic(topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(2*time.Millisecond),
		// A request must not hang: a broker that does not take the records
		// within this time is reported as unavailable (503).
		kgo.RecordDeliveryTimeout(deliveryTimeout),
		kgo.ProduceRequestTimeout(deliveryTimeout),
	)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &Producer{cl: cl, topic: topic, timeout: deliveryTimeout}, nil
}

// Message is one event to produce: its original bytes and the timestamp it
// was validated against, which becomes the record timestamp so that both
// consumers judge occurred_at exactly as the API did.
type Message struct {
	Key       string
	Value     []byte
	Timestamp time.Time
}

// Produce writes every message and waits for all acknowledgements. On error
// some messages may have been written: the caller reports failure for all,
// and a retry is harmless because events are deduplicated by identity.
func (p *Producer) Produce(ctx context.Context, msgs []Message) error {
	if len(msgs) == 0 {
		return nil
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: p.topic, Key: []byte(m.Key), Value: m.Value, Timestamp: m.Timestamp}
	}
	// The idempotent producer never abandons a batch that may have reached
	// a broker (that would break its sequence numbers), so when brokers
	// vanish mid-request the acknowledgement can take until they return.
	// The request does not wait that long: it answers 503 at the deadline,
	// and a record delivered later is harmless (events are deduplicated by
	// identity, and the client retries a 503).
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	wg.Add(len(recs))
	for _, r := range recs {
		p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
			wg.Done()
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("%w: kafka did not acknowledge the events within %s", leaderboard.ErrUnavailable, p.timeout)
	}
	if first != nil {
		return fmt.Errorf("%w: kafka did not take the events: %v", leaderboard.ErrUnavailable, first)
	}
	return nil
}

// Close flushes and closes the producer.
func (p *Producer) Close(ctx context.Context) {
	_ = p.cl.Flush(ctx)
	p.cl.Close()
}

package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Tunables of Run.
const (
	minTick     = 10 * time.Millisecond  // pacing ticks: at most 100 per second (keeps CPU low) ...
	maxTick     = 100 * time.Millisecond // ... and at least 10, so low rates stay smooth
	flushGrace  = 5 * time.Second        // after the run ends, how long in-flight records may still be delivered
	httpWorkers = 4                      // concurrent POST /events requests
	httpTimeout = 30 * time.Second       // per request
	minBackoff  = 100 * time.Millisecond // after a failed request; doubles up to maxBackoff
	maxBackoff  = 5 * time.Second
	maxBody     = 4 << 20 // of a POST /events answer
)

// Run generates cfg's traffic and sends it until cfg.Duration has elapsed
// (when > 0) or ctx ends, then waits up to a few seconds for in-flight
// records (Kafka flush, pending requests) and returns. stats (may be nil) is
// updated as it goes.
//
// Pacing: every 10..100 ms Run sends the events due by then, in batches of
// cfg.BatchSize. When the target cannot keep up, at most one second of
// backlog (or one batch) is kept; older due events are skipped, not sent in a
// burst later.
//
// Kafka: records are keyed "<board>:<player>" (key mismatches aside),
// partitioned by franz-go's default murmur2 key partitioner, and stamped with
// cfg.Now. HTTP: each batch is one application/x-ndjson POST /events; a 202
// answer's accepted and rejected counts go to stats; a 5xx, 408, 429 or a
// transport error counts the batch's events as Errors and backs off
// (100 ms doubling up to 5 s) while the run goes on; any other 4xx (a wrong
// token or URL, say) stops the run with an error, as retrying cannot help.
//
// It returns nil when the run ends normally (Duration or ctx), an error for
// an invalid cfg, a Kafka client that cannot be created, or a fatal HTTP
// answer.
func Run(ctx context.Context, cfg Config, stats *Stats) error {
	gen, err := NewGenerator(cfg)
	if err != nil {
		return err
	}
	if stats == nil {
		stats = new(Stats)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	var fatalOnce sync.Once
	var fatalErr error
	fail := func(err error) {
		fatalOnce.Do(func() { fatalErr = err })
		stopRun()
	}

	// Delivery may go on for flushGrace after the run ends, even when ctx
	// was canceled (a Ctrl-C still flushes what was sent).
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-runCtx.Done():
		}
		t := time.NewTimer(flushGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			hardStop()
		}
	}()

	var s sink
	switch cfg.Target {
	case TargetKafka:
		s, err = newKafkaSink(hardCtx, cfg, stats)
	default:
		s = newHTTPSink(runCtx, hardCtx, cfg, stats, fail)
	}
	if err != nil {
		return err
	}

	pace(runCtx, cfg, gen, s)
	stopRun()
	s.close(hardCtx)
	return fatalErr
}

// sink delivers batches. send may block (backpressure) until ctx ends; close
// waits for in-flight deliveries until ctx ends.
type sink interface {
	send(ctx context.Context, recs []Record)
	close(ctx context.Context)
}

// pace sends the due events until ctx ends or cfg.Duration elapses. At the
// end of the Duration it sends the events due since the last tick, waiting at
// most one tick for the sink.
func pace(ctx context.Context, cfg Config, gen *Generator, s sink) {
	interval := time.Duration(float64(cfg.BatchSize) / cfg.Rate * float64(time.Second))
	interval = min(max(interval, minTick), maxTick)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	runCtx := ctx
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	backlog := max(int64(cfg.Rate), int64(cfg.BatchSize))
	start := time.Now()
	var scheduled int64 // events due so far, sent or skipped

	sendDue := func(ctx context.Context, elapsed time.Duration) {
		due := int64(cfg.Rate*elapsed.Seconds()) - scheduled
		if due > backlog {
			scheduled += due - backlog
			due = backlog
		}
		for due > 0 && ctx.Err() == nil {
			n := min(due, int64(cfg.BatchSize))
			s.send(ctx, gen.Batch(int(n)))
			scheduled += n
			due -= n
		}
	}
	for {
		select {
		case <-ctx.Done():
			if cfg.Duration > 0 && runCtx.Err() == nil {
				last, cancel := context.WithTimeout(runCtx, interval)
				sendDue(last, cfg.Duration)
				cancel()
			}
			return
		case <-tick.C:
			elapsed := time.Since(start)
			if cfg.Duration > 0 {
				elapsed = min(elapsed, cfg.Duration)
			}
			sendDue(ctx, elapsed)
		}
	}
}

// kafkaSink produces with franz-go.
type kafkaSink struct {
	cl    *kgo.Client
	ctx   context.Context
	stats *Stats
}

func newKafkaSink(ctx context.Context, cfg Config, stats *Stats) (*kafkaSink, error) {
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.ClientID("leaderboard-loadgen"),
		// The default, spelled out: keyed records go to murmur2(key) like
		// every other producer of the topic (contract section 1).
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RecordDeliveryTimeout(30*time.Second),
	)
	if err != nil {
		return nil, fmt.Errorf("loadgen: kafka producer: %w", err)
	}
	return &kafkaSink{cl: cl, ctx: ctx, stats: stats}, nil
}

func (k *kafkaSink) send(_ context.Context, recs []Record) {
	k.stats.countSent(recs)
	for _, r := range recs {
		// The delivery context, not the run's: records sent before the run
		// ends are still flushed.
		k.cl.Produce(k.ctx, &kgo.Record{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, k.done)
	}
}

func (k *kafkaSink) done(_ *kgo.Record, err error) {
	if err != nil {
		k.stats.Errors.Add(1)
	} else {
		k.stats.Accepted.Add(1)
	}
}

func (k *kafkaSink) close(ctx context.Context) {
	_ = k.cl.Flush(ctx) // on timeout, Close fails what is left
	k.cl.Close()
}

// httpSink posts NDJSON batches with a few concurrent workers.
type httpSink struct {
	run, hard context.Context
	endpoint  string
	token     string
	client    *http.Client
	transport *http.Transport
	stats     *Stats
	fail      func(error)
	batches   chan []Record
	wg        sync.WaitGroup
}

func newHTTPSink(run, hard context.Context, cfg Config, stats *Stats, fail func(error)) *httpSink {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = httpWorkers
	h := &httpSink{
		run:       run,
		hard:      hard,
		endpoint:  strings.TrimRight(cfg.URL, "/") + "/events",
		token:     cfg.Token,
		client:    &http.Client{Transport: tr, Timeout: httpTimeout},
		transport: tr,
		stats:     stats,
		fail:      fail,
		batches:   make(chan []Record),
	}
	for range httpWorkers {
		h.wg.Go(h.worker)
	}
	return h
}

func (h *httpSink) send(ctx context.Context, recs []Record) {
	select {
	case h.batches <- recs:
	case <-ctx.Done():
	}
}

func (h *httpSink) close(context.Context) {
	close(h.batches)
	h.wg.Wait() // requests run under the delivery context, bounded by the grace period
	h.transport.CloseIdleConnections()
}

// errRetry marks a failed request worth repeating after a pause.
type errRetry struct{ error }

func (h *httpSink) worker() {
	var backoff time.Duration
	for recs := range h.batches {
		if backoff > 0 {
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-h.run.Done():
				t.Stop()
			}
		}
		err := h.post(recs)
		switch err.(type) {
		case nil:
			backoff = 0
		case errRetry:
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
		default:
			h.fail(err)
		}
	}
}

type eventsAnswer struct {
	Accepted *int64           `json:"accepted"`
	Rejected []map[string]any `json:"rejected"`
}

// post sends one batch and counts the outcome.
func (h *httpSink) post(recs []Record) error {
	var body bytes.Buffer
	for _, r := range recs {
		body.Write(r.Value)
		body.WriteByte('\n')
	}
	req, err := http.NewRequestWithContext(h.hard, http.MethodPost, h.endpoint, &body)
	if err != nil {
		h.stats.Errors.Add(int64(len(recs)))
		return fmt.Errorf("loadgen: POST %s: %w", h.endpoint, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if h.token != "" {
		req.Header.Set("Authorization", "Bearer "+h.token)
	}
	h.stats.countSent(recs)
	resp, err := h.client.Do(req)
	if err != nil {
		h.stats.Errors.Add(int64(len(recs)))
		return errRetry{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil && resp.StatusCode != http.StatusAccepted {
		data = nil
	}
	switch code := resp.StatusCode; {
	case code == http.StatusAccepted:
		var a eventsAnswer
		if err != nil || json.Unmarshal(data, &a) != nil || a.Accepted == nil {
			h.stats.Errors.Add(int64(len(recs)))
			return errRetry{fmt.Errorf("POST %s: unreadable 202 answer", h.endpoint)}
		}
		h.stats.Accepted.Add(*a.Accepted)
		h.stats.Rejected.Add(int64(len(a.Rejected)))
		return nil
	case code >= 500, code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		h.stats.Errors.Add(int64(len(recs)))
		return errRetry{fmt.Errorf("POST %s: %s", h.endpoint, resp.Status)}
	default:
		h.stats.Errors.Add(int64(len(recs)))
		return fmt.Errorf("loadgen: POST %s: %s: %s", h.endpoint, resp.Status, snippet(data))
	}
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

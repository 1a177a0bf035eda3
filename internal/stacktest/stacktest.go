//go:build chdb

// Package stacktest starts, inside a test binary, the whole ingestion stack
// on real components: a kfake broker with the score-event topic, a fresh
// database in the process's one embedded ClickHouse (chDB) migrated and
// consuming that topic, a redis-server for the hot boards, and the
// service's consumer. Tests drive it by producing records and compare what
// both stores answer.
package stacktest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/ingest"
	"example.com/leaderboard/internal/valkeytest"
	"example.com/leaderboard/internal/warehouse"
)

// Topic is the score-event topic of every stack.
const Topic = "leaderboard.score-events"

var (
	chOnce  sync.Once
	chDir   string
	chStore *warehouse.Store
	chErr   error
	dbSeq   atomic.Int64
)

// Main runs the package's tests, then stops the embedded ClickHouse and
// removes its folder. Packages that use stacks call it from TestMain: a
// binary built with -race leaves through C's exit, whose destructors would
// otherwise tear chDB down under its own running threads (a segmentation
// fault after PASS).
func Main(m *testing.M) {
	code := m.Run()
	if chStore != nil {
		if err := chStore.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stacktest: close the embedded clickhouse:", err)
		}
	}
	if chDir != "" {
		os.RemoveAll(chDir)
	}
	os.Exit(code)
}

// ClickHouse returns the test binary's one embedded ClickHouse.
func ClickHouse(t testing.TB) *warehouse.Store {
	t.Helper()
	chOnce.Do(func() {
		chDir, chErr = os.MkdirTemp("", "stacktest-clickhouse-")
		if chErr != nil {
			return
		}
		chStore, chErr = warehouse.OpenEmbedded(filepath.Join(chDir, "data"), "unused")
	})
	require.NoError(t, chErr)
	return chStore
}

// Stack is one isolated ingestion stack.
type Stack struct {
	t        testing.TB
	Kafka    *kfake.Cluster
	Brokers  []string
	Valkey   *valkeytest.Server
	Hot      *hotboard.Store
	Store    *warehouse.Store // bound to this stack's database
	Database string
	Metrics  *ingest.Metrics
	Registry *prometheus.Registry
	Producer *kgo.Client
	Admin    *kadm.Client

	consumer *ingest.Consumer
	cancel   context.CancelFunc
	done     chan struct{}
}

// Options tune a stack.
type Options struct {
	Partitions int32
	// AfterApply is passed to the consumer (crash tests).
	AfterApply func(ctx context.Context, records []*kgo.Record)
}

// Start builds a stack and starts its consumer.
func Start(t testing.TB, opts Options) *Stack {
	t.Helper()
	if opts.Partitions == 0 {
		opts.Partitions = 3
	}
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(opts.Partitions, Topic, Topic+".dlq"))
	require.NoError(t, err)
	t.Cleanup(kc.Close)
	s := &Stack{t: t, Kafka: kc, Brokers: kc.ListenAddrs()}

	s.Valkey = valkeytest.Start(t)
	s.Hot = hotboard.New(s.Valkey.Client(t), hotboard.Options{CreateMissing: true})

	base := ClickHouse(t)
	s.Database = fmt.Sprintf("st%d_%d", os.Getpid(), dbSeq.Add(1))
	s.Store = base.WithDatabase(s.Database)
	m, err := s.Store.NewMigrator(warehouse.SchemaParams{
		Database: s.Database, Topic: Topic, Brokers: s.Brokers[0],
		Group: "clickhouse-" + s.Database, MaxSkewMillis: (5 * time.Minute).Milliseconds(),
	})
	require.NoError(t, err)
	require.NoError(t, m.Up())
	t.Cleanup(func() {
		// Stop the Kafka engine table before its broker goes away.
		_, _ = base.DB().Exec("DROP DATABASE IF EXISTS " + s.Database + " SYNC")
	})

	s.Producer, err = kgo.NewClient(kgo.SeedBrokers(s.Brokers...), kgo.DefaultProduceTopic(Topic))
	require.NoError(t, err)
	t.Cleanup(s.Producer.Close)
	s.Admin = kadm.NewClient(s.Producer)

	s.Registry = prometheus.NewRegistry()
	s.Metrics = ingest.NewMetrics(s.Registry)
	s.StartConsumer(opts.AfterApply)
	return s
}

// StartConsumer starts (or restarts) the service's consumer.
func (s *Stack) StartConsumer(afterApply func(ctx context.Context, records []*kgo.Record)) {
	s.t.Helper()
	c, err := ingest.NewConsumer(ingest.ConsumerConfig{
		Brokers: s.Brokers, Topic: Topic, Group: "service", MaxClockSkew: 5 * time.Minute, AfterApply: afterApply,
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), s.Hot, warehouse.NewCatalog(s.Store, time.Minute), s.Metrics)
	require.NoError(s.t, err)
	ctx, cancel := context.WithCancel(context.Background())
	s.consumer, s.cancel, s.done = c, cancel, make(chan struct{})
	go func() { defer close(s.done); c.Run(ctx) }()
	s.t.Cleanup(func() { s.StopConsumer() })
}

// Consumer is the running consumer.
func (s *Stack) Consumer() *ingest.Consumer { return s.consumer }

// StopConsumer stops the consumer gracefully (the batch in hand is committed).
func (s *Stack) StopConsumer() {
	if s.consumer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.consumer.Stop(ctx)
	s.cancel()
	<-s.done
	s.consumer = nil
}

// KillConsumer stops the consumer at once: whatever it applied but did not
// commit is redelivered to the next one.
func (s *Stack) KillConsumer() {
	if s.consumer == nil {
		return
	}
	s.cancel()
	<-s.done
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.consumer.Stop(ctx)
	s.consumer = nil
}

// Produce writes records synchronously (key "<board>:<player>" unless given).
func (s *Stack) Produce(recs ...*kgo.Record) []*kgo.Record {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res := s.Producer.ProduceSync(ctx, recs...)
	require.NoError(s.t, res.FirstErr())
	out := make([]*kgo.Record, len(res))
	for i, r := range res {
		out[i] = r.Record
	}
	return out
}

// EndOffsets returns the next offset of every partition of the topic.
func (s *Stack) EndOffsets() map[int32]int64 {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ends, err := s.Admin.ListEndOffsets(ctx, Topic)
	require.NoError(s.t, err)
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

func committed(ctx context.Context, adm *kadm.Client, group string) (map[int32]int64, error) {
	out := map[int32]int64{}
	resp, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == Topic {
			out[o.Partition] = o.At
		}
	})
	return out, nil
}

// WaitConsumed waits until both the service (committed offsets) and
// ClickHouse (committed offsets of its Kafka engine) have consumed everything
// produced so far.
func (s *Stack) WaitConsumed() {
	s.t.Helper()
	want := s.EndOffsets()
	ctx := context.Background()
	var state string
	deadline := time.Now().Add(90 * time.Second)
	for {
		// ClickHouse's Kafka engine commits a block only after every view
		// below it wrote it: its committed offsets say what is readable.
		ch, chErr := committed(ctx, s.Admin, "clickhouse-"+s.Database)
		svc, svcErr := committed(ctx, s.Admin, "service")
		done := chErr == nil && svcErr == nil
		for p, end := range want {
			if end > 0 && (ch[p] < end || svc[p] < end) {
				done = false
			}
		}
		if done {
			return
		}
		state = fmt.Sprintf("end offsets %v, clickhouse %v (err %v), service %v (err %v)", want, ch, chErr, svc, svcErr)
		if time.Now().After(deadline) {
			s.t.Fatalf("both stores did not consume every record within 90s: %s", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ServiceOffsets are the service consumer group's committed offsets.
func (s *Stack) ServiceOffsets(ctx context.Context) (map[int32]int64, error) {
	return committed(ctx, s.Admin, "service")
}

// ClickHouseOffsets are the committed offsets of ClickHouse's Kafka engine.
func (s *Stack) ClickHouseOffsets(ctx context.Context) (map[int32]int64, error) {
	return committed(ctx, s.Admin, "clickhouse-"+s.Database)
}

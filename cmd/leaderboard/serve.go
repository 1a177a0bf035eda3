package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/valkey-io/valkey-go"

	"example.com/leaderboard/internal/api"
	"example.com/leaderboard/internal/broker"
	"example.com/leaderboard/internal/config"
	"example.com/leaderboard/internal/health"
	"example.com/leaderboard/internal/hotboard"
	"example.com/leaderboard/internal/ingest"
	"example.com/leaderboard/internal/recovery"
	"example.com/leaderboard/internal/warehouse"
)

// serve runs the service until ctx ends, then shuts down in order: stop
// intake (HTTP, consumer), finish and commit in-flight records, flush, close
// the stores.
func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	log.Info("starting leaderboard", "config", cfg)
	if cfg.IngestToken == "" {
		log.Warn("LEADERBOARD_INGEST_TOKEN is not set: POST /events is open to anyone who can reach the service")
	}
	if cfg.AdminToken == "" {
		log.Warn("LEADERBOARD_ADMIN_TOKEN is not set: write and admin endpoints are open to anyone who can reach the service")
	}
	if cfg.EmbeddedClickHouse() && !warehouse.EmbeddedAvailable {
		return warehouse.ErrEmbeddedUnavailable
	}

	// Claim the HTTP port before starting anything, so a busy port fails fast.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("LEADERBOARD_HTTP_ADDR: cannot listen on %s: %w", cfg.HTTPAddr, err)
	}
	defer ln.Close()
	release, err := checkDataDir(cfg)
	if err != nil {
		return err
	}
	defer release()

	var closers closeStack
	defer closers.closeAll(log)

	if cfg.EmbeddedKafka() {
		emb, err := broker.StartEmbedded(cfg.EmbeddedKafkaAddr, filepath.Join(cfg.DataDir, "kafka"))
		if err != nil {
			return fmt.Errorf("LEADERBOARD_EMBEDDED_KAFKA_ADDR: %w", err)
		}
		closers.push("embedded kafka", func() error { emb.Close(); return nil })
		log.Info("embedded kafka listening", "addr", emb.Addr())
	}
	adm, err := broker.NewAdmin(cfg.Brokers())
	if err != nil {
		return err
	}
	closers.push("kafka admin", func() error { adm.Close(); return nil })
	prober, err := broker.NewProber(cfg.Brokers())
	if err != nil {
		return err
	}
	closers.push("kafka probe", func() error { prober.Close(); return nil })

	store, err := openWarehouse(cfg)
	if err != nil {
		return err
	}
	closers.push("clickhouse", store.Close)
	schema := &schemaGate{store: store, params: schemaParams(cfg)}
	if err := schema.check(ctx); err != nil {
		if !errors.Is(err, errUnreachable) {
			return err
		}
		log.Warn("clickhouse unreachable at start: running degraded and retrying", "err", err)
	}

	vk, err := valkey.NewClient(valkey.ClientOption{
		InitAddress:       []string{cfg.ValkeyAddr},
		Password:          cfg.ValkeyPassword,
		ForceSingleClient: true, // returns a client that reconnects by itself even when Valkey is down at start
		ConnWriteTimeout:  2 * time.Second,
		DisableCache:      true,
	})
	if vk == nil {
		return fmt.Errorf("LEADERBOARD_VALKEY_ADDR: %w", err)
	}
	if err != nil {
		log.Warn("valkey unreachable at start: running degraded and retrying", "addr", cfg.ValkeyAddr, "err", err)
	}
	closers.push("valkey", func() error { vk.Close(); return nil })

	reg := prometheus.NewRegistry()
	metrics := ingest.NewMetrics(reg)

	hot := hotboard.New(vk, hotboard.Options{DedupHorizon: cfg.DedupHorizon})
	feed := &feedGate{vk: vk, hot: hot, adm: adm, cfg: cfg, log: log, lossCh: make(chan struct{}, 1)}
	hot.SetKeptCheck(feed.kept)

	producer, err := ingest.NewProducer(cfg.Brokers(), cfg.Topic, 10*time.Second)
	if err != nil {
		return err
	}
	closers.push("kafka producer", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		producer.Close(ctx)
		return nil
	})

	catalog := warehouse.NewCatalog(store, time.Minute)
	consumer, err := ingest.NewConsumer(ingest.ConsumerConfig{
		Brokers:      cfg.Brokers(),
		Topic:        cfg.Topic,
		Group:        cfg.ConsumerGroup,
		MaxClockSkew: cfg.MaxClockSkew,
	}, log, hot, catalog, metrics)
	if err != nil {
		return err
	}

	serviceOffsets := func(ctx context.Context) (map[int32]int64, error) {
		return broker.CommittedOffsets(ctx, adm, cfg.ConsumerGroup, cfg.Topic)
	}
	// The Kafka engine commits a block only after every view below it
	// stored it: its committed offsets are what ClickHouse applied.
	clickhouseOffsets := func(ctx context.Context) (map[int32]int64, error) {
		return broker.CommittedOffsets(ctx, adm, cfg.ClickHouseGroup, cfg.Topic)
	}
	rebuilder := recovery.NewRebuilder(store, hot, consumer, recovery.Config{
		ServiceOffsets:    serviceOffsets,
		ClickHouseOffsets: clickhouseOffsets,
		CatchUpTimeout:    cfg.RebuildCatchUpTimeout,
		MaxClockSkew:      cfg.MaxClockSkew,
	}, log, recovery.NewMetrics(reg))
	warmer := recovery.NewWarmer(rebuilder)
	reconciler := recovery.NewReconciler(rebuilder, cfg.ReconcileTopN)

	checker := health.New(cfg.HealthInterval, map[string]health.Probe{
		"kafka":      prober.Ping,
		"clickhouse": schema.check,
		"valkey":     feed.probe,
		// Not a store: the service's consumer, down while it is paused on a
		// failing step (so /health is degraded while records wait).
		"consumer": consumer.Health,
	})
	checker.OnChange(func(name string, err error) {
		if err != nil {
			log.Warn("dependency down", "dependency", name, "err", err)
		} else {
			log.Info("dependency up", "dependency", name)
		}
	})

	var ready atomic.Bool
	srv := api.New(api.Deps{
		Logger:           log,
		Registry:         reg,
		Health:           checker,
		ServiceOffsets:   serviceOffsets,
		ClickHouseOffset: clickhouseOffsets,
		IngestToken:      cfg.IngestToken,
		AdminToken:       cfg.AdminToken,
		Ready:            ready.Load,
	})

	srv.RegisterEvents(producer, cfg.MaxClockSkew, time.Now)
	srv.RegisterQueries(api.QueryDeps{
		Hot:       hot,
		HotBoards: hot,
		// Valkey answers in well under a millisecond: a read that waits
		// longer falls back to ClickHouse rather than hanging on a dead link.
		HotTimeout: 250 * time.Millisecond,
		Warehouse:  store,
		Boards:     store,
		Exporter:   store,
		Now:        time.Now,
		OnDefine:   catalog.Define, // the consumer sees a new aggregation at once
		Warm:       warmer.Request,
	})
	srv.RegisterAdmin(adminOps{rebuilder, reconciler})

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	decided := make(chan struct{})
	wg.Add(4)
	go func() { defer wg.Done(); checker.Run(bg) }()
	go func() {
		defer wg.Done()
		ensureTopics(bg, log, adm, cfg)
		if feed.decide(bg) != nil {
			return
		}
		close(decided)
		consumer.Run(bg)
	}()
	go func() { defer wg.Done(); warmer.Run(bg) }()
	go func() {
		defer wg.Done()
		select {
		case <-decided:
			keepHot(bg, log, cfg, rebuilder, reconciler, feed)
		case <-bg.Done():
		}
	}()
	closers.push("background tasks", func() error { stopBG(); wg.Wait(); return nil })
	// Closed before the background tasks: the batch in hand is applied and
	// committed, then the consumer leaves its group.
	closers.push("kafka consumer", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
		defer cancel()
		return consumer.Stop(ctx)
	})

	httpSrv := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()
	ready.Store(true)
	log.Info("serving", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining HTTP requests", "timeout", cfg.ShutdownTimeout.String())
	ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown did not finish in time", "err", err)
	}
	return nil
}

// ensureTopics creates the score-event topic and its DLQ, retrying until
// Kafka answers (it may come up after the service).
func ensureTopics(ctx context.Context, log *slog.Logger, adm *kadm.Client, cfg config.Config) {
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 10*time.Second) {
		err := broker.EnsureTopics(ctx, adm, cfg.KafkaPartitions, cfg.Topic, cfg.DLQTopic())
		if err == nil {
			return
		}
		log.Warn("cannot create topics yet; retrying", "err", err, "retry_in", delay.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

var errUnreachable = errors.New("unreachable")

// schemaGate pings ClickHouse and, once per successful connection, checks
// that the schema is current; a schema that is behind keeps ClickHouse
// reported down with the command to run.
type schemaGate struct {
	store  *warehouse.Store
	params warehouse.SchemaParams
	ok     atomic.Bool
}

func (g *schemaGate) check(ctx context.Context) error {
	if err := g.store.Ping(ctx); err != nil {
		g.ok.Store(false)
		return fmt.Errorf("%w: %w", errUnreachable, err)
	}
	if g.ok.Load() {
		return nil
	}
	m, err := g.store.NewMigrator(g.params)
	if err != nil {
		return err
	}
	if err := m.Check(); err != nil {
		return err
	}
	if err := g.store.CheckParams(ctx, g.params); err != nil {
		return err
	}
	g.ok.Store(true)
	return nil
}

// closeStack closes resources in reverse order of opening.
type closeStack struct {
	names []string
	fns   []func() error
}

func (s *closeStack) push(name string, fn func() error) {
	s.names = append(s.names, name)
	s.fns = append(s.fns, fn)
}

func (s *closeStack) closeAll(log *slog.Logger) {
	for i := len(s.fns) - 1; i >= 0; i-- {
		start := time.Now()
		if err := s.fns[i](); err != nil {
			log.Warn("close failed", "resource", s.names[i], "err", err)
			continue
		}
		log.Info("closed", "resource", s.names[i], "took", time.Since(start).Round(time.Millisecond).String())
	}
}

// adminOps is what the admin endpoints run.
type adminOps struct {
	*recovery.Rebuilder
	*recovery.Reconciler
}

// keepHot warms the hot store once the feed state is known (every missing
// hot window of the active boards; all of them when Valkey lost its data),
// again whenever Valkey loses its data while the service runs, and
// reconciles it with ClickHouse every LEADERBOARD_RECONCILE_INTERVAL. A
// warm-up that cannot run (ClickHouse down) is tried again.
func keepHot(ctx context.Context, log *slog.Logger, cfg config.Config, rb *recovery.Rebuilder, rc *recovery.Reconciler, feed *feedGate) {
	var tick <-chan time.Time
	if cfg.ReconcileInterval > 0 {
		t := time.NewTicker(cfg.ReconcileInterval)
		defer t.Stop()
		tick = t.C
	}
	pending, force := true, feed.lost.Load()
	for {
		var retry <-chan time.Time
		if pending {
			if _, err := rb.WarmUp(ctx, force, cfg.WarmupTimeout); err != nil {
				log.Warn("warm-up could not run; trying again", "err", err, "retry_in", "10s")
				retry = time.After(10 * time.Second)
			} else {
				pending, force = false, false
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-retry:
		case <-feed.lossCh:
			log.Warn("valkey lost its data: rebuilding the hot windows of the active boards")
			pending, force = true, true
		case <-tick:
			if _, err := rc.Reconcile(ctx); err != nil {
				log.Warn("reconciliation could not run", "err", err)
			}
		}
	}
}

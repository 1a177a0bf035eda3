package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"example.com/leaderboard/internal/config"
	"example.com/leaderboard/internal/loadgen"
)

// loadgenCmd sends synthetic score events to Kafka or to POST /events.
// Addresses default to the service's own configuration.
func loadgenCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	lg := loadgen.DefaultConfig()
	lg.Brokers = cfg.Brokers()
	lg.Topic = cfg.Topic
	lg.URL = serviceURL(cfg)
	lg.Token = cfg.IngestToken
	lg.Seed = time.Now().UnixNano() // a fresh seed: the same seed re-sends the same event ids

	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", strings.Join(lg.Brokers, ","), "Kafka seed brokers (target kafka)")
	fs.StringVar(&lg.Target, "target", loadgen.TargetKafka, "kafka or http")
	fs.StringVar(&lg.Topic, "topic", lg.Topic, "score-event topic (target kafka)")
	fs.StringVar(&lg.URL, "url", lg.URL, "service base URL (target http)")
	fs.Float64Var(&lg.Rate, "rate", lg.Rate, "events per second")
	fs.DurationVar(&lg.Duration, "duration", 0, "how long to run (0: until interrupted)")
	fs.IntVar(&lg.Boards, "boards", lg.Boards, "number of leaderboards")
	fs.IntVar(&lg.Players, "players", lg.Players, "players per board")
	fs.Float64Var(&lg.ZipfS, "zipf", lg.ZipfS, "Zipf exponent of player activity (> 1)")
	fs.Float64Var(&lg.DuplicateFraction, "duplicates", lg.DuplicateFraction, "fraction of byte-for-byte duplicates")
	fs.Float64Var(&lg.LateFraction, "late", lg.LateFraction, "fraction of late events (hours to a day old)")
	fs.Float64Var(&lg.OutOfOrderFraction, "out-of-order", lg.OutOfOrderFraction, "fraction of events sent out of order")
	fs.Float64Var(&lg.InvalidFraction, "invalid", lg.InvalidFraction, "fraction of invalid records")
	fs.IntVar(&lg.BatchSize, "batch", lg.BatchSize, "events per request or produce batch")
	fs.Int64Var(&lg.Seed, "seed", lg.Seed, "random seed (default: time-based)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	lg.Brokers = strings.Split(*brokers, ",")
	if err := lg.Validate(); err != nil {
		return err
	}

	var stats loadgen.Stats
	done := make(chan error, 1)
	go func() { done <- loadgen.Run(ctx, lg, &stats) }()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			fmt.Fprintln(stdout, "loadgen done:", stats.String())
			return err
		case <-tick.C:
			fmt.Fprintln(stdout, "loadgen:", stats.String())
		}
	}
}

// serviceURL is the URL a local client reaches the service at.
func serviceURL(cfg config.Config) string {
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return "http://localhost:8080"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

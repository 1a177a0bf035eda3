// Package loadgen produces realistic synthetic score-event traffic (contract
// section 1) for demos and load tests: Zipf-distributed players on a few
// boards, mostly small positive scores, and a configurable share of
// duplicates, late events, out-of-order events and invalid records, sent at a
// steady rate either straight to the Kafka topic or to POST /events.
//
// The generated sequence is deterministic for a seed and a clock (Config.Seed,
// Config.Now). Event ids are "<seed>-<counter>", so two runs with the same
// seed re-send the same identities (with other timestamps, which the service
// records as conflicts): give every run its own seed.
package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"
)

// Targets of Config.Target.
const (
	TargetKafka = "kafka" // produce to Config.Topic on Config.Brokers
	TargetHTTP  = "http"  // POST /events on Config.URL
)

// MaxBatchSize is the largest Config.BatchSize: POST /events takes at most
// 1000 events per request (contract section 1).
const MaxBatchSize = 1000

// Config describes the traffic. DefaultConfig gives sensible values.
type Config struct {
	Target  string   // TargetKafka or TargetHTTP
	Brokers []string // Kafka seed brokers (kafka target)
	Topic   string   // score-event topic (kafka target)
	URL     string   // service base URL, e.g. "http://localhost:8080" (http target)
	Token   string   // ingest bearer token for POST /events; empty: no Authorization header

	Rate     float64       // events per second, in total
	Duration time.Duration // how long to send; 0: until the context ends

	Boards  int     // number of boards: "board-001" ...
	Players int     // players per board: "player-000001" ...
	ZipfS   float64 // Zipf exponent (> 1, e.g. 1.1): a few players get most events

	// Shares of the events, each in [0, 1]. The categories are exclusive
	// (an event is at most one of them), so their sum must be <= 1.
	DuplicateFraction  float64 // re-sends of an earlier event, byte for byte
	LateFraction       float64 // occurred_at hours earlier or in yesterday's daily window
	OutOfOrderFraction float64 // part of a player's group of events sent shuffled
	InvalidFraction    float64 // records the service must reject

	BatchSize int   // events per HTTP request / produce batch, 1..MaxBatchSize
	Seed      int64 // seed of the generator; also the prefix of the event ids

	Now func() time.Time // clock for occurred_at and record timestamps; nil: time.Now
}

// DefaultConfig returns a modest HTTP load against a local service.
func DefaultConfig() Config {
	return Config{
		Target:             TargetHTTP,
		Topic:              "leaderboard.score-events",
		URL:                "http://localhost:8080",
		Rate:               100,
		Boards:             3,
		Players:            1000,
		ZipfS:              1.1,
		DuplicateFraction:  0.01,
		LateFraction:       0.02,
		OutOfOrderFraction: 0.05,
		InvalidFraction:    0.01,
		BatchSize:          100,
		Seed:               1,
	}
}

// Validate reports every problem of the configuration, each naming its field.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("loadgen: "+format, args...))
	}

	switch c.Target {
	case TargetKafka:
		if len(c.Brokers) == 0 {
			bad("Brokers: at least one Kafka broker is required for the kafka target")
		}
		for i, b := range c.Brokers {
			if strings.TrimSpace(b) == "" || strings.ContainsAny(b, " \t\r\n") {
				bad("Brokers[%d]: must be a host:port without spaces, got %q", i, b)
			}
		}
		if err := validTopic(c.Topic); err != "" {
			bad("Topic: %s, got %q", err, c.Topic)
		}
	case TargetHTTP:
		u, err := url.Parse(c.URL)
		switch {
		case c.URL == "":
			bad("URL: the service base URL is required for the http target")
		case err != nil:
			bad("URL: %v", err)
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			bad("URL: must be an absolute http:// or https:// URL, got %q", c.URL)
		case u.RawQuery != "" || u.Fragment != "":
			bad("URL: must not have a query or fragment, got %q", c.URL)
		}
		for _, r := range c.Token {
			if r < 0x21 || r > 0x7e {
				bad("Token: must be printable ASCII without spaces")
				break
			}
		}
	default:
		bad("Target: must be %q or %q, got %q", TargetKafka, TargetHTTP, c.Target)
	}

	if !(c.Rate > 0) || math.IsInf(c.Rate, 0) {
		bad("Rate: must be a positive number of events per second, got %v", c.Rate)
	}
	if c.Duration < 0 {
		bad("Duration: must be >= 0 (0 runs until the context ends), got %s", c.Duration)
	}
	if c.Boards < 1 {
		bad("Boards: must be >= 1, got %d", c.Boards)
	}
	if c.Players < 1 {
		bad("Players: must be >= 1, got %d", c.Players)
	}
	if !(c.ZipfS > 1) || math.IsInf(c.ZipfS, 0) {
		bad("ZipfS: must be a finite number > 1 (e.g. 1.1), got %v", c.ZipfS)
	}
	fractions := []struct {
		name string
		v    float64
	}{
		{"DuplicateFraction", c.DuplicateFraction},
		{"LateFraction", c.LateFraction},
		{"OutOfOrderFraction", c.OutOfOrderFraction},
		{"InvalidFraction", c.InvalidFraction},
	}
	sum, fractionsOK := 0.0, true
	for _, f := range fractions {
		if !(f.v >= 0 && f.v <= 1) {
			bad("%s: must be within [0, 1], got %v", f.name, f.v)
			fractionsOK = false
		}
		sum += f.v
	}
	if fractionsOK && sum > 1+1e-9 {
		bad("DuplicateFraction + LateFraction + OutOfOrderFraction + InvalidFraction: must be at most 1 (an event is in at most one category), got %v", sum)
	}
	if c.BatchSize < 1 || c.BatchSize > MaxBatchSize {
		bad("BatchSize: must be within 1..%d, got %d", MaxBatchSize, c.BatchSize)
	}
	return errors.Join(errs...)
}

// validTopic checks a Kafka topic name; it returns "" when valid.
func validTopic(t string) string {
	if t == "" {
		return "the Kafka topic is required for the kafka target"
	}
	if len(t) > 249 || t == "." || t == ".." {
		return "must be a legal Kafka topic name"
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return "must consist of ASCII letters, digits, '.', '_' and '-'"
		}
	}
	return ""
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

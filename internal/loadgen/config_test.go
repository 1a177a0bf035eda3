package loadgen

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func kafkaConfig() Config {
	c := DefaultConfig()
	c.Target = TargetKafka
	c.Brokers = []string{"localhost:9092"}
	return c
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name    string
		base    func() Config
		mutate  func(*Config)
		wantErr []string // substrings of the error; none: valid
	}{
		{name: "default http is valid", base: DefaultConfig, mutate: func(*Config) {}},
		{name: "kafka is valid", base: kafkaConfig, mutate: func(*Config) {}},
		{name: "zero fractions and duration are valid", base: DefaultConfig, mutate: func(c *Config) {
			c.DuplicateFraction, c.LateFraction, c.OutOfOrderFraction, c.InvalidFraction = 0, 0, 0, 0
			c.Duration = 0
		}},
		{name: "fractions summing to exactly 1 are valid", base: DefaultConfig, mutate: func(c *Config) {
			c.DuplicateFraction, c.LateFraction, c.OutOfOrderFraction, c.InvalidFraction = 0.25, 0.25, 0.25, 0.25
		}},
		{name: "https URL with a path and a token", base: DefaultConfig, mutate: func(c *Config) {
			c.URL, c.Token = "https://lb.example.com/api/", "s3cr3t-token"
		}},
		{name: "unknown target", base: DefaultConfig, mutate: func(c *Config) { c.Target = "grpc" },
			wantErr: []string{"Target", `"grpc"`}},
		{name: "empty target", base: DefaultConfig, mutate: func(c *Config) { c.Target = "" },
			wantErr: []string{"Target"}},
		{name: "kafka without brokers", base: kafkaConfig, mutate: func(c *Config) { c.Brokers = nil },
			wantErr: []string{"Brokers"}},
		{name: "kafka with a blank broker", base: kafkaConfig, mutate: func(c *Config) { c.Brokers = []string{"a:9092", " "} },
			wantErr: []string{"Brokers[1]"}},
		{name: "kafka without topic", base: kafkaConfig, mutate: func(c *Config) { c.Topic = "" },
			wantErr: []string{"Topic"}},
		{name: "kafka with an illegal topic", base: kafkaConfig, mutate: func(c *Config) { c.Topic = "score events" },
			wantErr: []string{"Topic"}},
		{name: "http without URL", base: DefaultConfig, mutate: func(c *Config) { c.URL = "" },
			wantErr: []string{"URL"}},
		{name: "http with a relative URL", base: DefaultConfig, mutate: func(c *Config) { c.URL = "localhost:8080" },
			wantErr: []string{"URL"}},
		{name: "http with a query", base: DefaultConfig, mutate: func(c *Config) { c.URL = "http://h:1/?x=1" },
			wantErr: []string{"URL"}},
		{name: "token with a newline", base: DefaultConfig, mutate: func(c *Config) { c.Token = "abc\n" },
			wantErr: []string{"Token"}},
		{name: "zero rate", base: DefaultConfig, mutate: func(c *Config) { c.Rate = 0 },
			wantErr: []string{"Rate"}},
		{name: "NaN rate", base: DefaultConfig, mutate: func(c *Config) { c.Rate = math.NaN() },
			wantErr: []string{"Rate"}},
		{name: "infinite rate", base: DefaultConfig, mutate: func(c *Config) { c.Rate = math.Inf(1) },
			wantErr: []string{"Rate"}},
		{name: "negative duration", base: DefaultConfig, mutate: func(c *Config) { c.Duration = -time.Second },
			wantErr: []string{"Duration"}},
		{name: "no boards", base: DefaultConfig, mutate: func(c *Config) { c.Boards = 0 },
			wantErr: []string{"Boards"}},
		{name: "no players", base: DefaultConfig, mutate: func(c *Config) { c.Players = 0 },
			wantErr: []string{"Players"}},
		{name: "zipf exponent 1", base: DefaultConfig, mutate: func(c *Config) { c.ZipfS = 1 },
			wantErr: []string{"ZipfS"}},
		{name: "negative duplicate fraction", base: DefaultConfig, mutate: func(c *Config) { c.DuplicateFraction = -0.1 },
			wantErr: []string{"DuplicateFraction"}},
		{name: "late fraction above 1", base: DefaultConfig, mutate: func(c *Config) { c.LateFraction = 1.5 },
			wantErr: []string{"LateFraction"}},
		{name: "NaN out-of-order fraction", base: DefaultConfig, mutate: func(c *Config) { c.OutOfOrderFraction = math.NaN() },
			wantErr: []string{"OutOfOrderFraction"}},
		{name: "invalid fraction above 1", base: DefaultConfig, mutate: func(c *Config) { c.InvalidFraction = 2 },
			wantErr: []string{"InvalidFraction"}},
		{name: "fractions summing above 1", base: DefaultConfig, mutate: func(c *Config) {
			c.DuplicateFraction, c.LateFraction, c.OutOfOrderFraction, c.InvalidFraction = 0.3, 0.3, 0.3, 0.3
		}, wantErr: []string{"must be at most 1"}},
		{name: "zero batch size", base: DefaultConfig, mutate: func(c *Config) { c.BatchSize = 0 },
			wantErr: []string{"BatchSize"}},
		{name: "batch size above the POST /events limit", base: DefaultConfig, mutate: func(c *Config) { c.BatchSize = 1001 },
			wantErr: []string{"BatchSize", "1000"}},
		{name: "every problem is reported", base: DefaultConfig, mutate: func(c *Config) {
			c.Rate, c.Boards, c.ZipfS = -1, 0, 0.5
		}, wantErr: []string{"Rate", "Boards", "ZipfS"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.base()
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.wantErr) == 0 {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, want := range tc.wantErr {
				assert.Contains(t, err.Error(), want)
			}
		})
	}
}

// Package config reads the service configuration from LEADERBOARD_*
// environment variables, applies documented defaults and validates it, so a
// bad value stops the process before anything starts.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the service. Field tags name the variable; the
// table in README.md documents them.
type Config struct {
	HTTPAddr               string        // LEADERBOARD_HTTP_ADDR
	KafkaBrokers           []string      // LEADERBOARD_KAFKA_BROKERS; empty: embedded broker
	EmbeddedKafkaAddr      string        // LEADERBOARD_EMBEDDED_KAFKA_ADDR
	KafkaPartitions        int32         // LEADERBOARD_KAFKA_PARTITIONS
	ClickHouseKafkaBrokers []string      // LEADERBOARD_CLICKHOUSE_KAFKA_BROKERS; default: the service's brokers
	Topic                  string        // LEADERBOARD_TOPIC
	ConsumerGroup          string        // LEADERBOARD_CONSUMER_GROUP
	ClickHouseGroup        string        // LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP
	ClickHouseDSN          string        // LEADERBOARD_CLICKHOUSE_DSN; empty: embedded chDB
	ClickHouseDatabase     string        // LEADERBOARD_CLICKHOUSE_DATABASE
	DataDir                string        // LEADERBOARD_DATA_DIR
	ValkeyAddr             string        // LEADERBOARD_VALKEY_ADDR
	ValkeyPassword         string        // LEADERBOARD_VALKEY_PASSWORD (secret)
	MaxClockSkew           time.Duration // LEADERBOARD_MAX_CLOCK_SKEW
	DedupHorizon           time.Duration // LEADERBOARD_DEDUP_HORIZON
	IngestToken            string        // LEADERBOARD_INGEST_TOKEN (secret)
	AdminToken             string        // LEADERBOARD_ADMIN_TOKEN (secret)
	ShutdownTimeout        time.Duration // LEADERBOARD_SHUTDOWN_TIMEOUT
	HealthInterval         time.Duration // LEADERBOARD_HEALTH_INTERVAL
	WarmupTimeout          time.Duration // LEADERBOARD_WARMUP_TIMEOUT
	RebuildCatchUpTimeout  time.Duration // LEADERBOARD_REBUILD_CATCHUP_TIMEOUT
	ReconcileInterval      time.Duration // LEADERBOARD_RECONCILE_INTERVAL; 0: off
	ReconcileTopN          int           // LEADERBOARD_RECONCILE_TOP_N
	LogLevel               slog.Level    // LEADERBOARD_LOG_LEVEL
}

// EmbeddedKafka reports whether the service runs its own in-process broker.
func (c Config) EmbeddedKafka() bool { return len(c.KafkaBrokers) == 0 }

// EmbeddedClickHouse reports whether the service runs chDB in-process.
func (c Config) EmbeddedClickHouse() bool { return c.ClickHouseDSN == "" }

// Brokers returns the seed brokers the service connects to.
func (c Config) Brokers() []string {
	if c.EmbeddedKafka() {
		return []string{c.EmbeddedKafkaAddr}
	}
	return c.KafkaBrokers
}

// BrokersForClickHouse returns the broker list rendered into the Kafka engine table.
func (c Config) BrokersForClickHouse() []string {
	if len(c.ClickHouseKafkaBrokers) > 0 {
		return c.ClickHouseKafkaBrokers
	}
	return c.Brokers()
}

// DLQTopic is the dead-letter topic of the score-event topic.
func (c Config) DLQTopic() string { return c.Topic + ".dlq" }

// Var describes one environment variable: its name, default and meaning.
type Var struct {
	Name, Default, Meaning string
	Secret                 bool
}

// Vars lists every variable the service reads, in the order of the README table.
var Vars = []Var{
	{"LEADERBOARD_HTTP_ADDR", ":8080", "HTTP listen address", false},
	{"LEADERBOARD_KAFKA_BROKERS", "", "comma-separated Kafka seed brokers; empty: embedded broker", false},
	{"LEADERBOARD_EMBEDDED_KAFKA_ADDR", "127.0.0.1:19092", "listen address of the embedded broker", false},
	{"LEADERBOARD_KAFKA_PARTITIONS", "3", "partitions of the topics the service creates when they are missing", false},
	{"LEADERBOARD_CLICKHOUSE_KAFKA_BROKERS", "", "the broker list as ClickHouse reaches it; empty: the service's brokers", false},
	{"LEADERBOARD_TOPIC", "leaderboard.score-events", "score-event topic (DLQ: same name + .dlq)", false},
	{"LEADERBOARD_CONSUMER_GROUP", "leaderboard-service", "consumer group of the service", false},
	{"LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP", "leaderboard-clickhouse", "consumer group of ClickHouse's Kafka engine table", false},
	{"LEADERBOARD_CLICKHOUSE_DSN", "", "ClickHouse server DSN (clickhouse-go/v2 format); empty: embedded chDB", true},
	{"LEADERBOARD_CLICKHOUSE_DATABASE", "leaderboard", "ClickHouse database holding the service's tables", false},
	{"LEADERBOARD_DATA_DIR", "./data", "where the embedded broker and the embedded ClickHouse keep their data", false},
	{"LEADERBOARD_VALKEY_ADDR", "127.0.0.1:6379", "Valkey (or Redis) address", false},
	{"LEADERBOARD_VALKEY_PASSWORD", "", "Valkey password", true},
	{"LEADERBOARD_MAX_CLOCK_SKEW", "5m", "how far past the record timestamp occurred_at may be", false},
	{"LEADERBOARD_DEDUP_HORIZON", "336h", "how long Valkey keeps event identities for duplicate detection", false},
	{"LEADERBOARD_INGEST_TOKEN", "", "bearer token for POST /events; empty: open", true},
	{"LEADERBOARD_ADMIN_TOKEN", "", "bearer token for write and admin endpoints; empty: open", true},
	{"LEADERBOARD_SHUTDOWN_TIMEOUT", "15s", "how long shutdown waits for in-flight requests and records", false},
	{"LEADERBOARD_HEALTH_INTERVAL", "1s", "how often dependencies are probed", false},
	{"LEADERBOARD_WARMUP_TIMEOUT", "2m", "how long a warm-up (at start, after Valkey lost data) may rebuild missing hot windows", false},
	{"LEADERBOARD_REBUILD_CATCHUP_TIMEOUT", "30s", "how long a rebuild or a reconciliation waits for ClickHouse to reach the service's offsets", false},
	{"LEADERBOARD_RECONCILE_INTERVAL", "10m", "how often hot windows are compared with ClickHouse and repaired; 0: never", false},
	{"LEADERBOARD_RECONCILE_TOP_N", "100", "how many leading ranks the reconciler checks apart", false},
	{"LEADERBOARD_LOG_LEVEL", "info", "debug, info, warn or error", false},
}

// Load reads the configuration through getenv (os.Getenv in production) and
// validates it. The error names every variable that is wrong.
func Load(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		for _, v := range Vars {
			if v.Name == name {
				return v.Default
			}
		}
		return ""
	}
	var (
		c    Config
		errs []error
	)
	bad := func(name string, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	duration := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "%q is not a positive duration (for example 5m, 30s)", get(name))
		}
		return d
	}
	address := func(name string, requirePort bool) string {
		v := get(name)
		if err := checkAddr(v, requirePort); err != nil {
			bad(name, "%q is not a host:port address: %v", v, err)
		}
		return v
	}
	list := func(name string) []string {
		var out []string
		for _, p := range strings.Split(get(name), ",") {
			if p = strings.TrimSpace(p); p != "" {
				if err := checkAddr(p, true); err != nil {
					bad(name, "%q is not a host:port address: %v", p, err)
				}
				out = append(out, p)
			}
		}
		return out
	}

	c.HTTPAddr = address("LEADERBOARD_HTTP_ADDR", false)
	c.KafkaBrokers = list("LEADERBOARD_KAFKA_BROKERS")
	c.EmbeddedKafkaAddr = address("LEADERBOARD_EMBEDDED_KAFKA_ADDR", true)
	if n, err := strconv.ParseInt(get("LEADERBOARD_KAFKA_PARTITIONS"), 10, 32); err != nil || n < 1 || n > 1000 {
		bad("LEADERBOARD_KAFKA_PARTITIONS", "%q is not a whole number from 1 to 1000", get("LEADERBOARD_KAFKA_PARTITIONS"))
	} else {
		c.KafkaPartitions = int32(n)
	}
	c.ClickHouseKafkaBrokers = list("LEADERBOARD_CLICKHOUSE_KAFKA_BROKERS")
	c.Topic = get("LEADERBOARD_TOPIC")
	if !validTopic(c.Topic) {
		bad("LEADERBOARD_TOPIC", "%q is not a valid Kafka topic name (letters, digits, '.', '_', '-', at most 200)", c.Topic)
	}
	c.ConsumerGroup = get("LEADERBOARD_CONSUMER_GROUP")
	c.ClickHouseGroup = get("LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP")
	if c.ConsumerGroup == c.ClickHouseGroup {
		bad("LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP", "must differ from LEADERBOARD_CONSUMER_GROUP: both stores consume every record")
	}
	c.ClickHouseDSN = get("LEADERBOARD_CLICKHOUSE_DSN")
	c.ClickHouseDatabase = get("LEADERBOARD_CLICKHOUSE_DATABASE")
	if !validIdentifier(c.ClickHouseDatabase) {
		bad("LEADERBOARD_CLICKHOUSE_DATABASE", "%q must be letters, digits and '_', starting with a letter", c.ClickHouseDatabase)
	}
	c.DataDir = get("LEADERBOARD_DATA_DIR")
	c.ValkeyAddr = address("LEADERBOARD_VALKEY_ADDR", true)
	c.ValkeyPassword = getenv("LEADERBOARD_VALKEY_PASSWORD")
	c.MaxClockSkew = duration("LEADERBOARD_MAX_CLOCK_SKEW")
	c.DedupHorizon = duration("LEADERBOARD_DEDUP_HORIZON")
	if c.DedupHorizon > 0 && c.DedupHorizon < 24*time.Hour {
		bad("LEADERBOARD_DEDUP_HORIZON", "must be at least 24h")
	}
	c.IngestToken = getenv("LEADERBOARD_INGEST_TOKEN")
	c.AdminToken = getenv("LEADERBOARD_ADMIN_TOKEN")
	c.ShutdownTimeout = duration("LEADERBOARD_SHUTDOWN_TIMEOUT")
	c.HealthInterval = duration("LEADERBOARD_HEALTH_INTERVAL")
	c.WarmupTimeout = duration("LEADERBOARD_WARMUP_TIMEOUT")
	c.RebuildCatchUpTimeout = duration("LEADERBOARD_REBUILD_CATCHUP_TIMEOUT")
	if v := get("LEADERBOARD_RECONCILE_INTERVAL"); v != "0" {
		c.ReconcileInterval = duration("LEADERBOARD_RECONCILE_INTERVAL")
	}
	if n, err := strconv.Atoi(get("LEADERBOARD_RECONCILE_TOP_N")); err != nil || n < 1 || n > 100000 {
		bad("LEADERBOARD_RECONCILE_TOP_N", "%q is not a whole number from 1 to 100000", get("LEADERBOARD_RECONCILE_TOP_N"))
	} else {
		c.ReconcileTopN = n
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("LEADERBOARD_LOG_LEVEL"))); err != nil {
		bad("LEADERBOARD_LOG_LEVEL", "%q must be one of debug, info, warn, error", get("LEADERBOARD_LOG_LEVEL"))
	}
	return c, errors.Join(errs...)
}

// LogValue masks secrets so the configuration can be logged at start.
func (c Config) LogValue() slog.Value {
	mask := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	dsn := c.ClickHouseDSN
	if dsn != "" {
		dsn = maskDSN(dsn)
	}
	return slog.GroupValue(
		slog.String("http_addr", c.HTTPAddr),
		slog.Any("kafka_brokers", c.Brokers()),
		slog.Bool("embedded_kafka", c.EmbeddedKafka()),
		slog.Any("clickhouse_kafka_brokers", c.BrokersForClickHouse()),
		slog.String("topic", c.Topic),
		slog.Int("kafka_partitions", int(c.KafkaPartitions)),
		slog.String("consumer_group", c.ConsumerGroup),
		slog.String("clickhouse_consumer_group", c.ClickHouseGroup),
		slog.String("clickhouse_dsn", dsn),
		slog.Bool("embedded_clickhouse", c.EmbeddedClickHouse()),
		slog.String("clickhouse_database", c.ClickHouseDatabase),
		slog.String("data_dir", c.DataDir),
		slog.String("valkey_addr", c.ValkeyAddr),
		slog.String("valkey_password", mask(c.ValkeyPassword)),
		slog.String("max_clock_skew", c.MaxClockSkew.String()),
		slog.String("dedup_horizon", c.DedupHorizon.String()),
		slog.String("ingest_token", mask(c.IngestToken)),
		slog.String("admin_token", mask(c.AdminToken)),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("health_interval", c.HealthInterval.String()),
		slog.String("warmup_timeout", c.WarmupTimeout.String()),
		slog.String("rebuild_catchup_timeout", c.RebuildCatchUpTimeout.String()),
		slog.String("reconcile_interval", c.ReconcileInterval.String()),
		slog.Int("reconcile_top_n", c.ReconcileTopN),
		slog.String("log_level", c.LogLevel.String()),
	)
}

// maskDSN hides the password of a clickhouse://user:password@host DSN.
func maskDSN(dsn string) string {
	at := strings.LastIndex(dsn, "@")
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		userinfo = userinfo[:i] + ":****"
	}
	return dsn[:scheme+3] + userinfo + dsn[at:]
}

func checkAddr(v string, requirePort bool) error {
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return err
	}
	if strings.ContainsAny(host, " /") {
		return errors.New("bad host")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 || (requirePort && n == 0) {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func validTopic(s string) bool {
	if s == "" || len(s) > 200 || s == "." || s == ".." {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validIdentifier(s string) bool {
	if s == "" || len(s) > 64 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

package warehouse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/template"

	"github.com/golang-migrate/migrate/v4"
	chmigrate "github.com/golang-migrate/migrate/v4/database/clickhouse"
	bindata "github.com/golang-migrate/migrate/v4/source/go_bindata"

	schema "example.com/leaderboard/clickhouse"
)

// ErrSchemaBehind means the database has not been migrated to the version
// this binary needs.
var ErrSchemaBehind = errors.New("clickhouse schema is behind: run `leaderboard migrate up` first")

// SchemaParams is what the migration templates are rendered with.
type SchemaParams struct {
	Database string
	Topic    string
	Brokers  string // comma-separated, as ClickHouse reaches them
	Group    string // consumer group of the Kafka engine table
	// MaxSkewMillis is how far past the record timestamp occurred_at may be.
	MaxSkewMillis int64
}

// Migrator applies the embedded migrations to a Store.
type Migrator struct {
	m      *migrate.Migrate
	latest uint
}

// NewMigrator renders the migrations with p and prepares golang-migrate.
func (s *Store) NewMigrator(p SchemaParams) (*Migrator, error) {
	names, latest, err := migrationNames()
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{"sql": quoteString}
	render := func(name string) ([]byte, error) {
		text, err := fs.ReadFile(schema.Migrations, path.Join("migrations", name))
		if err != nil {
			return nil, err
		}
		t, err := template.New(name).Option("missingkey=error").Funcs(funcs).Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, p); err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		return b.Bytes(), nil
	}
	src, err := bindata.WithInstance(bindata.Resource(names, render))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var current string
	if err := s.db.QueryRow("SELECT currentDatabase()").Scan(&current); err != nil {
		return nil, fmt.Errorf("clickhouse: %w", err)
	}
	drv, err := chmigrate.WithInstance(s.db, &chmigrate.Config{
		DatabaseName:          current,
		MigrationsTable:       "schema_migrations_" + p.Database, // one per service database: several may share a server
		MigrationsTableEngine: "MergeTree",
		MultiStatementEnabled: true,
	})
	if err != nil {
		return nil, fmt.Errorf("clickhouse migrations: %w", err)
	}
	m, err := migrate.NewWithInstance("templates", src, "clickhouse", drv)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return &Migrator{m: m, latest: latest}, nil
}

// Up applies every pending migration.
func (m *Migrator) Up() error {
	if err := m.m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// Down reverts every migration.
func (m *Migrator) Down() error {
	if err := m.m.Down(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Steps applies n migrations (negative: reverts).
func (m *Migrator) Steps(n int) error {
	if err := m.m.Steps(n); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Version returns the applied version (0 when none), whether the last
// migration failed half-way, and the latest version this binary knows.
func (m *Migrator) Version() (current uint, dirty bool, latest uint, err error) {
	v, dirty, err := m.m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, false, m.latest, nil
	}
	if err != nil {
		return 0, false, m.latest, fmt.Errorf("migration version: %w", err)
	}
	return v, dirty, m.latest, nil
}

// Check returns an error wrapping ErrSchemaBehind unless the schema is at
// the latest version and clean.
func (m *Migrator) Check() error {
	v, dirty, latest, err := m.Version()
	if err != nil {
		return err
	}
	switch {
	case dirty:
		return fmt.Errorf("clickhouse schema version %d is dirty (a migration failed half-way): fix it, then run `leaderboard migrate force %d` and `leaderboard migrate up`", v, v-1)
	case v < latest:
		return fmt.Errorf("%w (schema version %d, this binary needs %d)", ErrSchemaBehind, v, latest)
	case v > latest:
		return fmt.Errorf("clickhouse schema version %d is newer than this binary knows (%d): upgrade the binary", v, latest)
	}
	return nil
}

// Force sets the version without running migrations (to recover a dirty state).
func (m *Migrator) Force(v int) error { return m.m.Force(v) }

func migrationNames() ([]string, uint, error) {
	entries, err := fs.ReadDir(schema.Migrations, "migrations")
	if err != nil {
		return nil, 0, err
	}
	var (
		names  []string
		latest uint
	)
	for _, e := range entries {
		names = append(names, e.Name())
		var v uint
		if _, err := fmt.Sscanf(e.Name(), "%d_", &v); err == nil && v > latest {
			latest = v
		}
	}
	return names, latest, nil
}

// quoteString renders a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ErrSchemaParams means the schema was rendered with another configuration.
var ErrSchemaParams = errors.New("clickhouse schema was rendered with another configuration")

// CheckParams compares the configuration the schema was rendered with (the
// schema_params table) with p: the validation SQL embeds the clock skew, the
// Kafka engine table the topic, group and brokers.
func (s *Store) CheckParams(ctx context.Context, p SchemaParams) error {
	rows, err := s.db.QueryContext(ctx, "SELECT name, argMax(value, updated_at) FROM "+s.database+".schema_params GROUP BY name")
	if err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return fmt.Errorf("clickhouse: %w", err)
		}
		got[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	// A list, not a map: with several differences the first named is always the same.
	want := []struct{ name, value, variable string }{
		{"max_clock_skew_ms", fmt.Sprint(p.MaxSkewMillis), "LEADERBOARD_MAX_CLOCK_SKEW"},
		{"topic", p.Topic, "LEADERBOARD_TOPIC"},
		{"clickhouse_group", p.Group, "LEADERBOARD_CLICKHOUSE_CONSUMER_GROUP"},
		{"clickhouse_brokers", p.Brokers, "LEADERBOARD_CLICKHOUSE_KAFKA_BROKERS (default: the service's brokers)"},
	}
	for _, w := range want {
		if got[w.name] != w.value {
			return fmt.Errorf("%w: %s is %q in the schema but %q in this configuration (%s): restore the variable, or add a migration that re-renders the schema",
				ErrSchemaParams, w.name, got[w.name], w.value, w.variable)
		}
	}
	return nil
}

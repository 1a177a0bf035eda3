// Package warehouse is the ClickHouse side of the service: the source of
// truth. It opens either a ClickHouse server (clickhouse-go/v2) or the
// in-process chDB engine (build tag chdb) behind one database/sql handle, so
// the SQL is the same in both modes, applies the schema migrations and
// answers the queries the API needs.
package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// ErrEmbeddedUnavailable is returned when the embedded engine is asked of a
// binary built without it.
var ErrEmbeddedUnavailable = errors.New("this binary has no embedded ClickHouse (chDB): build it with -tags chdb, or set LEADERBOARD_CLICKHOUSE_DSN")

// Store is a handle on the ClickHouse database of the service.
type Store struct {
	db       *sql.DB
	database string
	embedded bool
}

// OpenServer connects to a ClickHouse server. It does not fail when the
// server is unreachable: Ping tells, and the pool reconnects by itself.
func OpenServer(dsn, database string) (*Store, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dsn: %w", err)
	}
	opts.DialTimeout = 3 * time.Second
	db := clickhouse.OpenDB(opts)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(4)
	db.SetConnMaxLifetime(time.Hour)
	return &Store{db: db, database: database}, nil
}

// DB exposes the handle for the migration runner and tests.
func (s *Store) DB() *sql.DB { return s.db }

// Database is the name of the service's database.
func (s *Store) Database() string { return s.database }

// Embedded reports whether the store is the in-process chDB engine.
func (s *Store) Embedded() bool { return s.embedded }

// Ping checks that ClickHouse answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one uint8
	if err := s.db.QueryRowContext(ctx, "SELECT toUInt8(1)").Scan(&one); err != nil {
		return fmt.Errorf("clickhouse: %w", err)
	}
	return nil
}

// Close releases the handle. For the embedded engine it also stops chDB's
// background work (Kafka consumers, merges) so the data folder is left clean.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.embedded {
		err = errors.Join(err, closeEmbedded())
	}
	return err
}

// WithDatabase returns a Store on the same connection for another database
// (tests keep one database per test in the one embedded engine).
func (s *Store) WithDatabase(database string) *Store {
	return &Store{db: s.db, database: database, embedded: s.embedded}
}

// ConsumedOffsets returns, per partition, the next offset after the records
// stored in the validated tables (accepted copies in deliveries, invalid
// records in rejected_events). The service reports ClickHouse's progress from
// its Kafka engine's committed offsets instead, which are only advanced once
// every view below the intake has written a block; this is for audits.
func (s *Store) ConsumedOffsets(ctx context.Context) (map[int32]int64, error) {
	q := "SELECT toInt32(p), toInt64(max(o) + 1) FROM (" +
		"SELECT src_partition AS p, src_offset AS o FROM " + s.database + ".deliveries UNION ALL " +
		"SELECT src_partition AS p, src_offset AS o FROM " + s.database + ".rejected_events) GROUP BY p"
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("clickhouse offsets: %w", err)
	}
	defer rows.Close()
	out := map[int32]int64{}
	for rows.Next() {
		var (
			p int32
			o int64
		)
		if err := rows.Scan(&p, &o); err != nil {
			return nil, fmt.Errorf("clickhouse offsets: %w", err)
		}
		out[p] = o
	}
	return out, rows.Err()
}

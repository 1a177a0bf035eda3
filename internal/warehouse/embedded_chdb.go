//go:build chdb

package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	// Imported first for its init: it points chdb-go at the cached library.
	_ "example.com/leaderboard/internal/chdblib"

	"github.com/chdb-io/chdb-go/chdb"
	chdbdriver "github.com/chdb-io/chdb-go/chdb/driver"
)

// EmbeddedAvailable reports whether this binary carries chDB.
const EmbeddedAvailable = true

var (
	embeddedMu   sync.Mutex
	embeddedPath string
)

// OpenEmbedded starts the in-process ClickHouse engine on dir. chDB allows
// one engine per process and one process per folder: a second call with the
// same folder shares the engine, another folder is an error.
func OpenEmbedded(dir, database string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("clickhouse data folder: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("clickhouse data folder: %w", err)
	}
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	if embeddedPath != "" && embeddedPath != abs {
		return nil, fmt.Errorf("embedded clickhouse already runs on %s in this process", embeddedPath)
	}
	if _, err := chdb.NewSession(embeddedConnStr(abs)); err != nil {
		return nil, fmt.Errorf("start embedded clickhouse on %s: %w", abs, err)
	}
	embeddedPath = abs
	connector, err := chdbdriver.Driver{}.OpenConnector("session=" + abs)
	if err != nil {
		return nil, fmt.Errorf("embedded clickhouse: %w", err)
	}
	db := sql.OpenDB(noTxConnector{connector})
	// chDB runs queries of one session one after another; a few pooled
	// handles let a slow query and a health probe wait in line without
	// each opening a session.
	db.SetMaxOpenConns(4)
	return &Store{db: db, database: database, embedded: true}, nil
}

// embeddedConnStr is the chDB connection string of every connection to the
// engine on path (settings given there apply to that connection only).
// The engine's expression JIT miscomputes some Int128 expressions once
// they are compiled (seen in 26.7: greatest/least returning -2^53), and
// views cannot turn it off per query: it is off for every connection.
func embeddedConnStr(path string) string {
	return path + "?compile_expressions=0&compile_aggregate_expressions=0"
}

func closeEmbedded() error {
	streamErr := closeStreams()
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	if embeddedPath == "" {
		return streamErr
	}
	s, err := chdb.NewSession(embeddedPath)
	if err == nil {
		s.Close()
	}
	embeddedPath = ""
	return errors.Join(streamErr, err)
}

// noTxConnector wraps chdb-go's connector: chDB has no transactions, and
// golang-migrate's ClickHouse driver writes its version row inside one.
// ClickHouse servers ignore that transaction as well, so a no-op is exact.
type noTxConnector struct{ driver.Connector }

func (c noTxConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return noTxConn{conn}, nil
}

type noTxConn struct{ driver.Conn }

func (c noTxConn) Begin() (driver.Tx, error) { return noTx{}, nil }

func (c noTxConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	return noTx{}, nil
}

func (c noTxConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c noTxConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

type noTx struct{}

func (noTx) Commit() error   { return nil }
func (noTx) Rollback() error { return nil }

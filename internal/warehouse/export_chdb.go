//go:build chdb

package warehouse

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync"

	chdbpurego "github.com/chdb-io/chdb-go/chdb-purego"
	chdbdriver "github.com/chdb-io/chdb-go/chdb/driver"
	"github.com/huandu/go-sqlbuilder"
)

// chdb-go's default mode materialises a whole result in memory before the
// first row; its PARQUET_STREAMING mode hands over the result chunk by chunk
// and cancels the query when the rows are closed.
//
// A chDB connection holds one streaming query, and any other query on it
// retires that stream ("No active streaming query", or an empty chunk that
// makes chdb-go panic). chdb-go's database/sql driver runs everything on
// one process-wide connection, so an export read that way is cut by the
// first ranking query that arrives meanwhile. Exports therefore read
// through connections of their own: one chDB connection (same engine, same
// settings) per export.
var (
	streamMu   sync.Mutex
	streamPath string
	streamDBs  *sql.DB
)

// exportBuffer is how many rows the driver decodes ahead.
const exportBuffer = 1024

// maxExports is how many exports run at once per process: each holds the
// engine's memory for its sort; others wait for a connection (or their
// context).
const maxExports = 2

func (s *Store) streamDB() (*sql.DB, error) {
	if !s.embedded {
		return s.db, nil
	}
	embeddedMu.Lock()
	path := embeddedPath
	embeddedMu.Unlock()
	if path == "" {
		return nil, fmt.Errorf("embedded clickhouse is closed")
	}
	streamMu.Lock()
	defer streamMu.Unlock()
	if streamDBs != nil && streamPath == path {
		return streamDBs, nil
	}
	if streamDBs != nil {
		_ = streamDBs.Close()
	}
	streamDBs = sql.OpenDB(streamConnector{connStr: embeddedConnStr(path)})
	streamDBs.SetMaxOpenConns(maxExports)
	// A connection is closed after its export: a stream cancelled by a
	// client that left keeps its query state (and its hold on the tables,
	// which a DROP waits for) until the connection runs something else or
	// closes.
	streamDBs.SetMaxIdleConns(-1)
	streamPath = path
	return streamDBs, nil
}

// closeStreams closes the export connections; it runs before the engine's
// own connection is closed.
func closeStreams() error {
	streamMu.Lock()
	defer streamMu.Unlock()
	if streamDBs == nil {
		return nil
	}
	err := streamDBs.Close()
	streamDBs, streamPath = nil, ""
	return err
}

// streamConnector opens a chDB connection of its own for each database/sql
// connection.
type streamConnector struct{ connStr string }

func (c streamConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := chdbpurego.NewConnectionFromConnString(c.connStr)
	if err != nil {
		return nil, fmt.Errorf("embedded clickhouse: export connection: %w", err)
	}
	return &streamConn{conn: conn}, nil
}

func (streamConnector) Driver() driver.Driver { return chdbdriver.Driver{} }

// streamConn answers queries only, each as a Parquet stream.
type streamConn struct{ conn chdbpurego.ChdbConn }

func (c *streamConn) Prepare(string) (driver.Stmt, error) {
	return nil, errors.New("embedded clickhouse: export connections take no prepared statements")
}

func (c *streamConn) Begin() (driver.Tx, error) {
	return nil, errors.New("embedded clickhouse: export connections take no transactions")
}

func (c *streamConn) Close() error {
	c.conn.Close()
	return nil
}

func (c *streamConn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (rows driver.Rows, err error) {
	if len(args) > 0 {
		// The same interpolation as chdb-go's own driver.
		values := make([]any, len(args))
		for i, a := range args {
			values[i] = a.Value
		}
		if query, err = sqlbuilder.ClickHouse.Interpolate(query, values); err != nil {
			return nil, err
		}
	}
	res, err := c.conn.QueryStreaming(query, chdbdriver.PARQUET_STREAMING.GetFormat())
	if err != nil {
		return nil, err
	}
	// chdb-go decodes the first chunk without looking at its error and
	// panics on one that is not Parquet: look first.
	first := res.GetNext()
	switch {
	case first == nil:
		res.Free()
		return nil, errors.New("embedded clickhouse: the stream ended before its first chunk")
	case first.Error() != nil:
		err := first.Error()
		res.Free()
		return nil, err
	case first.Len() == 0:
		res.Free()
		return emptyRows{}, nil
	}
	defer func() {
		if r := recover(); r != nil {
			res.Free()
			rows, err = nil, fmt.Errorf("embedded clickhouse: unreadable stream: %v", r)
		}
	}()
	inner, err := chdbdriver.PARQUET_STREAMING.PrepareStreamingRows(&prefetched{ChdbStreamResult: res, first: first}, exportBuffer, false)
	if err != nil {
		res.Free()
		return nil, err
	}
	return &safeRows{Rows: inner}, nil
}

// prefetched hands out a chunk already fetched before the rest.
type prefetched struct {
	chdbpurego.ChdbStreamResult
	first chdbpurego.ChdbResult
}

func (p *prefetched) GetNext() chdbpurego.ChdbResult {
	if c := p.first; c != nil {
		p.first = nil
		return c
	}
	return p.ChdbStreamResult.GetNext()
}

// safeRows turns a panic of the Parquet decoder into the read's error.
type safeRows struct{ driver.Rows }

func (r *safeRows) Next(dest []driver.Value) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("embedded clickhouse: unreadable stream: %v", p)
		}
	}()
	return r.Rows.Next(dest)
}

// emptyRows is a result without rows.
type emptyRows struct{}

func (emptyRows) Columns() []string         { return nil }
func (emptyRows) Close() error              { return nil }
func (emptyRows) Next([]driver.Value) error { return io.EOF }

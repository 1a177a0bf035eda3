//go:build chdb

package warehouse

import (
	"database/sql"
	"fmt"
	"sync"

	chdbdriver "github.com/chdb-io/chdb-go/chdb/driver"
)

// chdb-go's default mode materialises a whole result in memory before the
// first row; its PARQUET_STREAMING mode hands over the result chunk by chunk
// and cancels the query when the rows are closed. Exports of the embedded
// engine read through a second handle in that mode, on the same session.
var (
	streamMu   sync.Mutex
	streamPath string
	streamDBs  *sql.DB
)

// exportBuffer is how many rows the driver decodes ahead.
const exportBuffer = 1024

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
	connector, err := chdbdriver.Driver{}.OpenConnector(fmt.Sprintf("session=%s;driverType=PARQUET_STREAMING;bufferSize=%d", path, exportBuffer))
	if err != nil {
		return nil, fmt.Errorf("embedded clickhouse streaming: %w", err)
	}
	if streamDBs != nil {
		_ = streamDBs.Close()
	}
	streamDBs = sql.OpenDB(noTxConnector{connector})
	// Two exports at a time per process keep the engine's memory for the
	// sort bounded; others wait for a connection (or their context).
	streamDBs.SetMaxOpenConns(2)
	streamPath = path
	return streamDBs, nil
}

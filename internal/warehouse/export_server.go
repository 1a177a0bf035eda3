//go:build !chdb

package warehouse

import "database/sql"

// streamDB is the handle exports read through: clickhouse-go streams rows
// by itself.
func (s *Store) streamDB() (*sql.DB, error) { return s.db, nil }

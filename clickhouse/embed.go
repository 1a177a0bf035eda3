// Package clickhouse holds the ClickHouse schema of the service as numbered
// golang-migrate migrations. The files are Go templates: what depends on
// configuration (database, topic, broker list as ClickHouse reaches it,
// consumer group) is rendered at migration time, never hard-coded.
package clickhouse

import "embed"

// Migrations are the *.up.sql and *.down.sql templates under migrations/.
//
//go:embed migrations/*.sql
var Migrations embed.FS

// Package recovery keeps the hot store (Valkey) a faithful cache of
// ClickHouse: it rebuilds a hot window from ClickHouse at aligned Kafka
// positions while the consumer keeps applying new records (Rebuilder),
// warms the hot windows of active boards at start and after Valkey lost
// its data (Warmer), and compares hot windows with ClickHouse periodically,
// repairing differences by rebuild (Reconciler). docs/failures.md describes
// the scenarios.
package recovery

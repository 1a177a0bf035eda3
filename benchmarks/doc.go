// Package benchmarks measures the service's hot paths on real components:
// `go test -bench . ./benchmarks` (add `-tags chdb` and CHDB_LIB_PATH for the
// end-to-end ingestion benchmark). Figures are reported in docs/benchmarks.md;
// nothing here asserts on time.
package benchmarks

// Package chdblib finds libchdb.so for the embedded ClickHouse before chdb-go
// loads it. chdb-go opens the library in a package init and panics when it
// is missing; this package's init runs first (Go initialises ready packages
// in import-path order, and this module's path, example.com/..., sorts before
// github.com/chdb-io/...) and sets CHDB_LIB_PATH to the copy that
// scripts/libchdb.sh cached, so neither `make` nor the user has to. When no
// copy is found it stops the process with one line saying what to run.
package chdblib

import (
	"fmt"
	"os"
	"path/filepath"
)

func init() {
	if os.Getenv("CHDB_LIB_PATH") != "" {
		return
	}
	if p := Find(); p != "" {
		os.Setenv("CHDB_LIB_PATH", p)
		return
	}
	fmt.Fprintln(os.Stderr, "leaderboard: libchdb.so not found: run scripts/libchdb.sh (make build does), or set CHDB_LIB_PATH")
	os.Exit(1)
}

// Find returns the first libchdb.so among: $LEADERBOARD_LIBCHDB_CACHE, next
// to the executable, and .cache/chdb in the working folder or any parent
// (a checkout of this repository); "" when there is none.
func Find() string {
	var candidates []string
	if dir := os.Getenv("LEADERBOARD_LIBCHDB_CACHE"); dir != "" {
		candidates = append(candidates, filepath.Join(dir, "libchdb.so"))
	}
	if exe, err := os.Executable(); err == nil {
		dir := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(dir, "libchdb.so"), filepath.Join(dir, "..", ".cache", "chdb", "libchdb.so"))
	}
	if wd, err := os.Getwd(); err == nil {
		for dir := wd; ; dir = filepath.Dir(dir) {
			candidates = append(candidates, filepath.Join(dir, ".cache", "chdb", "libchdb.so"))
			if parent := filepath.Dir(dir); parent == dir {
				break
			}
		}
	}
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c
		}
	}
	return ""
}

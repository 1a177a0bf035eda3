package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"example.com/leaderboard/internal/config"
	"example.com/leaderboard/internal/warehouse"
)

func loadConfig(getenv func(string) string) (config.Config, error) {
	cfg, err := config.Load(getenv)
	if err != nil {
		// One line: every bad variable, separated.
		return cfg, fmt.Errorf("invalid configuration: %s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return cfg, nil
}

// checkDataDir makes sure the embedded stores can write under the data
// folder and that no other leaderboard process uses it: the embedded broker
// and chDB allow one process per folder. The returned release (never nil)
// gives the folder up.
func checkDataDir(cfg config.Config) (release func(), err error) {
	release = func() {}
	if !cfg.EmbeddedKafka() && !cfg.EmbeddedClickHouse() {
		return release, nil
	}
	if err := probeDataDir(cfg); err != nil {
		return release, err
	}
	lock, err := os.OpenFile(filepath.Join(cfg.DataDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return release, fmt.Errorf("LEADERBOARD_DATA_DIR: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return release, fmt.Errorf("LEADERBOARD_DATA_DIR: %s is in use by another leaderboard process (serve or migrate): %w", cfg.DataDir, err)
	}
	return func() { lock.Close() }, nil
}

func probeDataDir(cfg config.Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("LEADERBOARD_DATA_DIR: cannot create %s: %w", cfg.DataDir, err)
	}
	probe, err := os.CreateTemp(cfg.DataDir, ".write-probe-")
	if err != nil {
		return fmt.Errorf("LEADERBOARD_DATA_DIR: %s is not writable: %w", cfg.DataDir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	for _, sub := range []string{"kafka", "clickhouse"} {
		p := filepath.Join(cfg.DataDir, sub)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return fmt.Errorf("LEADERBOARD_DATA_DIR: %s is not a folder", p)
		}
	}
	return nil
}

func openWarehouse(cfg config.Config) (*warehouse.Store, error) {
	if cfg.EmbeddedClickHouse() {
		s, err := warehouse.OpenEmbedded(filepath.Join(cfg.DataDir, "clickhouse"), cfg.ClickHouseDatabase)
		if err != nil {
			return nil, fmt.Errorf("embedded clickhouse: %w", err)
		}
		return s, nil
	}
	return warehouse.OpenServer(cfg.ClickHouseDSN, cfg.ClickHouseDatabase)
}

func schemaParams(cfg config.Config) warehouse.SchemaParams {
	return warehouse.SchemaParams{
		Database: cfg.ClickHouseDatabase,
		Topic:    cfg.Topic,
		Brokers:  strings.Join(cfg.BrokersForClickHouse(), ","),
		Group:    cfg.ClickHouseGroup,
		// The skew is rendered into the validation views: changing it needs
		// a new migration, like any schema change.
		MaxSkewMillis: cfg.MaxClockSkew.Milliseconds(),
	}
}

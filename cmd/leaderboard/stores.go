package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

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

// checkDataDir makes sure the embedded stores can write under the data folder.
func checkDataDir(cfg config.Config) error {
	if !cfg.EmbeddedKafka() && !cfg.EmbeddedClickHouse() {
		return nil
	}
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

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// migrateCmd applies or inspects the ClickHouse schema. In embedded mode it
// opens the data folder itself, so it must run while serve is stopped.
func migrateCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"migrate needs up, down, version or force VERSION"}
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	release, err := checkDataDir(cfg)
	if err != nil {
		return err
	}
	defer release()
	store, err := openWarehouse(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Ping(ctx); err != nil {
		return fmt.Errorf("clickhouse unreachable: %w", err)
	}
	m, err := store.NewMigrator(schemaParams(cfg))
	if err != nil {
		return err
	}
	switch args[0] {
	case "up":
		if err := m.Up(); err != nil {
			return err
		}
	case "down":
		if err := m.Down(); err != nil {
			return err
		}
	case "version":
	case "force":
		if len(args) != 2 {
			return usageError{"migrate force needs a VERSION"}
		}
		v, err := strconv.Atoi(args[1])
		if err != nil || v < -1 {
			return usageError{fmt.Sprintf("migrate force: %q is not a version", args[1])}
		}
		if err := m.Force(v); err != nil {
			return err
		}
	default:
		return usageError{fmt.Sprintf("unknown migrate command %q", args[0])}
	}
	v, dirty, latest, err := m.Version()
	if err != nil {
		return err
	}
	log.Info("clickhouse schema", "version", v, "dirty", dirty, "latest", latest, "database", cfg.ClickHouseDatabase)
	fmt.Fprintf(stdout, "schema version %d (latest %d, dirty %t)\n", v, latest, dirty)
	return nil
}

// Command leaderboard is the real-time leaderboard service and its
// operational tools, as subcommands: serve, migrate (and, as clients of a
// running service's admin API, the operations added later).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, "leaderboard:", err)
			fmt.Fprint(os.Stderr, usage)
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "leaderboard:", err)
		os.Exit(1)
	}
}

const usage = `usage: leaderboard <command> [arguments]

commands:
  serve                      run the service (HTTP API, consumer, embedded stores when no addresses are set)
  migrate up|down|version    apply, revert or show the ClickHouse schema migrations
  migrate force VERSION      mark VERSION as applied and clean (after repairing a failed migration)
  loadgen [flags]            send synthetic score events to Kafka or POST /events (loadgen -h lists the flags)
  rebuild --board ID --window daily|weekly|alltime [--date YYYY-MM-DD] [--url URL]
                             rebuild a hot window into Valkey from ClickHouse (through the running service)
  reconcile [--url URL]      compare every hot window with ClickHouse once and repair differences
                             (through the running service; fails when a window stays unrepaired)

Configuration comes from LEADERBOARD_* environment variables; see README.md.
`

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// run dispatches a subcommand; every failure comes back as an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrateCmd(ctx, args[1:], getenv, stdout, stderr)
	case "loadgen":
		return loadgenCmd(ctx, args[1:], getenv, stdout, stderr)
	case "rebuild":
		return rebuildCmd(ctx, args[1:], getenv, stdout, stderr)
	case "reconcile":
		return reconcileCmd(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

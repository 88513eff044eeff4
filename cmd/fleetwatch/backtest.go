package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
	"github.com/fleetwatch/fleetwatch/rules"
)

// backtestCommands registers `fleetwatch rules backtest`.
func backtestCommands(a *kingpin.Application, stdout, stderr io.Writer) map[string]func() int {
	cmd := a.GetCommand("rules").Command("backtest", "Evaluate rule files over stored history and report, per alerting rule, the alerts and minutes firing they would have produced.")
	files := cmd.Flag("rules", "Rule file, glob or pack:NAME (repeatable).").Required().Strings()
	dataDir := cmd.Flag("storage.path", "fleetwatch's data directory (read-only; fleetwatch may keep running).").Default("data").String()
	from := cmd.Flag("from", "Start, RFC 3339 (e.g. 2026-11-24T00:00:00Z) or a duration before now (e.g. 24h).").Default("24h").String()
	to := cmd.Flag("to", "End, RFC 3339 or a duration before now; default now.").Default("0s").String()
	return map[string]func() int{cmd.FullCommand(): func() int {
		now := time.Now()
		start, err := parseWhen(*from, now)
		if err != nil {
			fmt.Fprintf(stderr, "--from: %v\n", err)
			return 2
		}
		end, err := parseWhen(*to, now)
		if err != nil {
			fmt.Fprintf(stderr, "--to: %v\n", err)
			return 2
		}
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		tmp, err := os.MkdirTemp("", "fleetwatch-backtest-")
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer os.RemoveAll(tmp)
		db, err := tsdb.OpenDBReadOnly(*dataDir, tmp, logger)
		if err != nil {
			fmt.Fprintf(stderr, "open %s: %v\n", *dataDir, err)
			return 1
		}
		defer db.Close()
		engine := promapi.NewEngine(promapi.EngineOptions{}, logger, nil)
		rep, err := rules.Backtest(context.Background(), rules.Options{Queryable: db, Engine: engine, Logger: logger}, *files, start, end)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if err := rep.WriteText(stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}}
}

// parseWhen reads an RFC 3339 time or a duration before now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration", s)
	}
	return now.Add(-d), nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
	"github.com/fleetwatch/fleetwatch/postmortem"
	"github.com/fleetwatch/fleetwatch/rules"
)

// runReports runs `fleetwatch postmortem …` and `fleetwatch report fleet …`
// over the data of a fleetwatch (its config's storage.path and alert
// store), which may keep running: the TSDB is opened read-only and SQLite
// allows readers beside the writer. --config.file (-c) picks the config;
// every other argument belongs to the report (postmortem.RunCLI).
func runReports(args []string, stdout, stderr io.Writer) int {
	cfgFile, rest, err := takeConfigFlag(args)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return postmortem.ExitUsage
	}
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}()
	open := func() (postmortem.Sources, error) {
		cfg := config.Default()
		if cfgFile != "" {
			if cfg, err = config.Load(cfgFile); err != nil {
				return postmortem.Sources{}, err
			}
		}
		dataDir := cfg.Resolve(cfg.Storage.Path)
		logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		var st *sqlstore.Store
		if dsnFile := cfg.Alerting.Store.PostgresDSNFile; dsnFile != "" {
			dsn, err := os.ReadFile(dsnFile)
			if err != nil {
				return postmortem.Sources{}, err
			}
			st, err = sqlstore.OpenPostgres(context.Background(), strings.TrimSpace(string(dsn)), sqlstore.Options{Logger: logger})
			if err != nil {
				return postmortem.Sources{}, err
			}
		} else {
			path := filepath.Join(dataDir, "alerter.db")
			if cfg.Alerting.Store.Path != "" {
				path = cfg.Resolve(cfg.Alerting.Store.Path)
			}
			if _, err := os.Stat(path); err != nil {
				return postmortem.Sources{}, fmt.Errorf("alert store: %w (is --config.file the running fleetwatch's?)", err)
			}
			if st, err = sqlstore.OpenSQLite(path, sqlstore.Options{Logger: logger}); err != nil {
				return postmortem.Sources{}, err
			}
		}
		closers = append(closers, st.Close)
		src := postmortem.Sources{Store: st, Logger: logger}
		tmp, err := os.MkdirTemp("", "fleetwatch-report-")
		if err != nil {
			return src, err
		}
		closers = append(closers, func() error { return os.RemoveAll(tmp) })
		if db, err := tsdb.OpenDBReadOnly(dataDir, tmp, logger); err == nil {
			closers = append(closers, db.Close)
			src.Queryable = db
			src.Engine = promapi.NewEngine(promapi.EngineOptions{}, logger, nil)
		} else {
			logger.Warn("no TSDB: the report has no graphs and no time to detect", "dir", dataDir, "err", err)
		}
		if files, err := rules.ExpandRuleFiles(cfg.RuleFiles); err == nil {
			if lookup, err := postmortem.RulesFromFiles(files); err == nil {
				src.Rules = lookup
			}
		}
		return src, nil
	}
	return postmortem.RunCLI(context.Background(), rest, stdout, stderr, open)
}

// takeConfigFlag removes --config.file=F, --config.file F or -c F from args.
func takeConfigFlag(args []string) (string, []string, error) {
	var file string
	rest := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "--config.file="):
			file = strings.TrimPrefix(a, "--config.file=")
		case a == "--config.file" || a == "-c":
			if i+1 == len(args) {
				return "", nil, fmt.Errorf("%s needs a file", a)
			}
			i++
			file = args[i]
		default:
			rest = append(rest, a)
		}
	}
	return file, rest, nil
}

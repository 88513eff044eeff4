// Command fleetwatch watches a fleet of servers and the network between
// them: `fleetwatch serve` runs everything; the other commands check
// configuration and rules the way promtool does. `fleetwatch --help` lists
// them all.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"
	"github.com/fleetwatch/fleetwatch/app"
	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/internal/buildinfo"
	"github.com/fleetwatch/fleetwatch/rules"
	"github.com/fleetwatch/fleetwatch/rules/anomaly"
	"github.com/fleetwatch/fleetwatch/rules/unittest"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	a := kingpin.New("fleetwatch", "Watches a fleet of servers and the network between them: collects metrics, evaluates rules, opens incidents.")
	a.UsageWriter(stdout)
	a.ErrorWriter(stderr)
	exitCode := -1
	a.Terminate(func(code int) { exitCode = code }) // --help and --version end here
	a.HelpFlag.Short('h')

	serve := a.Command("serve", "Run fleetwatch: collectors, embedded TSDB, rules, HTTP API and UI.").Default()
	serveConfig := serve.Flag("config.file", "fleetwatch.yml to load (built-in defaults when empty: this host's metrics, data in ./data, UI on 127.0.0.1:9470).").Short('c').String()
	serveListen := serve.Flag("web.listen-address", "Override server.listen_address.").String()
	serveData := serve.Flag("storage.path", "Override storage.path.").String()
	serveWebConfig := serve.Flag("web.config.file", "Override server.web_config_file: Prometheus' web configuration file (TLS, basic auth).").String()
	logLevel := serve.Flag("log.level", "debug, info, warn or error.").Default("info").Enum("debug", "info", "warn", "error")
	logFormat := serve.Flag("log.format", "logfmt or json.").Default("logfmt").Enum("logfmt", "json")

	check := a.Command("check", "Check files without running anything.")
	checkConfig := check.Command("config", "Check fleetwatch.yml files: exit 1 with file:line: field: problem for each error.")
	checkConfigFiles := checkConfig.Arg("file", "Config files.").Required().ExistingFiles()

	rulesCmd := a.Command("rules", "Prometheus rule files: check them, unit-test them (promtool's formats).")
	rulesCheck := rulesCmd.Command("check", "Check rule files for syntax and PromQL errors, as promtool check rules.")
	rulesCheckFiles := rulesCheck.Arg("file", "Rule files.").Required().Strings()
	rulesTest := rulesCmd.Command("test", "Run promtool-format rule unit tests.")
	rulesTestFiles := rulesTest.Arg("file", "Unit-test files.").Required().Strings()
	rulesTestRun := rulesTest.Flag("run", "Only test groups whose name matches this regexp (repeatable).").Strings()
	rulesTestDebug := rulesTest.Flag("debug", "Print every series at the end of each test group.").Bool()

	anomalyCmd := a.Command("anomaly", "Anomaly detection outside the server.")
	anomalyDetect := anomalyCmd.Command("detect", "Run an anomaly preset over a timestamp,value CSV and print timestamp,score for each alert it would raise.")
	anomalyPreset := anomalyDetect.Flag("preset", "latency, counter or gauge.").Required().String()
	anomalyFile := anomalyDetect.Arg("file", "CSV file (NAB's format); - for standard input.").Required().String()

	a.Command("postmortem", "Write the postmortem draft of an incident (or of a time range): `fleetwatch postmortem [-c fleetwatch.yml] INCIDENT --format md|html|json`.")
	a.Command("report", "Fleet reports over a period: `fleetwatch report fleet [-c fleetwatch.yml] --from -7d`.")
	version := a.Command("version", "Print the version.")

	// Each area's commands live in a file of their own (cmd/fleetwatch/<area>.go)
	// and register here: full command name → what it runs.
	more := map[string]func() int{}
	for _, register := range []func(*kingpin.Application, io.Writer, io.Writer) map[string]func() int{backtestCommands, deviceCommands, simulateCommands, incidentCommands} {
		for name, f := range register(a, stdout, stderr) {
			more[name] = f
		}
	}

	// `incidents` takes flags of its own, which kingpin must not parse.
	if len(args) > 0 && args[0] == "incidents" {
		return incidentapi.RunCLI(args[1:], stdout, stderr)
	}
	if len(args) > 0 && (args[0] == "postmortem" || args[0] == "report") && !(len(args) > 1 && (args[1] == "--help" || args[1] == "-h")) {
		return runReports(args, stdout, stderr)
	}
	cmd, err := a.Parse(args)
	if exitCode >= 0 {
		return exitCode
	}
	if err != nil {
		fmt.Fprintf(stderr, "fleetwatch: %v\n", err)
		return 2
	}
	switch cmd {
	case serve.FullCommand():
		return runServe(app.Options{ConfigFile: *serveConfig, ListenAddress: *serveListen, DataDir: *serveData, WebConfigFile: *serveWebConfig}, *logLevel, *logFormat, stderr)
	case checkConfig.FullCommand():
		return checkConfigs(stdout, stderr, *checkConfigFiles)
	case rulesCheck.FullCommand():
		return rules.CheckFiles(stdout, stderr, *rulesCheckFiles...)
	case rulesTest.FullCommand():
		return unittest.Run(stdout, stderr, unittest.Options{Run: *rulesTestRun, Debug: *rulesTestDebug}, *rulesTestFiles...)
	case anomalyDetect.FullCommand():
		return detect(stdout, stderr, *anomalyPreset, *anomalyFile)
	case version.FullCommand():
		bi := buildinfo.Get()
		fmt.Fprintf(stdout, "fleetwatch, version %s (revision: %s, built %s)\n  go version: %s\n", bi.Version, bi.Revision, bi.BuildDate, bi.GoVersion)
		return 0
	}
	if f, ok := more[cmd]; ok {
		return f()
	}
	return 2
}

func newLogger(level, format string, w io.Writer) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(o app.Options, level, format string, stderr io.Writer) int {
	o.Logger = newLogger(level, format, stderr)
	// As Prometheus 3 does: collect garbage at 75% heap growth instead of
	// Go's 100%, trading a little CPU for a smaller resident set. GOGC in
	// the environment still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(75)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan chan error)
	o.Reload = reload
	go func() {
		for {
			select {
			case <-hup:
				reply := make(chan error, 1)
				select {
				case reload <- reply:
					<-reply // the server logs the outcome
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := app.Run(ctx, o); err != nil {
		o.Logger.Error("fleetwatch failed", "err", err)
		return 1
	}
	return 0
}

func checkConfigs(stdout, stderr io.Writer, files []string) int {
	failed := false
	for _, f := range files {
		if _, err := config.Load(f); err != nil {
			failed = true
			fmt.Fprintln(stderr, err)
			continue
		}
		fmt.Fprintf(stdout, "%s: SUCCESS\n", f)
	}
	if failed {
		return 1
	}
	return 0
}

func detect(stdout, stderr io.Writer, preset, file string) int {
	var r io.Reader = os.Stdin
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		r = f
	}
	if err := anomaly.DetectCSV(r, stdout, preset); err != nil {
		msg := err.Error()
		if file != "-" && !strings.HasPrefix(msg, file) {
			msg = file + ": " + msg
		}
		fmt.Fprintln(stderr, msg)
		return 1
	}
	return 0
}

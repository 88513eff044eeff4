package postmortem

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Exit codes of RunCLI.
const (
	ExitOK    = 0
	ExitError = 1 // the report could not be built (unknown incident, store error)
	ExitUsage = 2 // bad arguments
)

const cliUsage = `usage:
  fleetwatch postmortem [flags] INCIDENT
  fleetwatch postmortem [flags] --from TIME --to TIME [--selector '{site="dc2"}']
  fleetwatch report fleet [flags] [--from TIME] [--to TIME]

TIME is RFC 3339, Unix seconds, now, or -DURATION (-12h, -7d).
`

// RunCLI runs `fleetwatch postmortem …` or `fleetwatch report fleet …`:
// args starts with "postmortem" or "report". open is called once the
// arguments are valid, to open the store and the TSDB. It returns the
// process's exit code; errors go to stderr, the report to stdout (or
// --output).
func RunCLI(ctx context.Context, args []string, stdout, stderr io.Writer, open func() (Sources, error)) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, cliUsage)
		return ExitUsage
	}
	switch args[0] {
	case "postmortem":
		return runPostmortem(ctx, args[1:], stdout, stderr, open)
	case "report":
		if len(args) < 2 || args[1] != "fleet" {
			fmt.Fprintf(stderr, "report: want `report fleet`\n%s", cliUsage)
			return ExitUsage
		}
		return runFleet(ctx, args[2:], stdout, stderr, open)
	}
	fmt.Fprintf(stderr, "unknown command %q\n%s", args[0], cliUsage)
	return ExitUsage
}

// parseInterspersed lets flags follow positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runPostmortem(ctx context.Context, args []string, stdout, stderr io.Writer, open func() (Sources, error)) int {
	fs := flag.NewFlagSet("postmortem", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "md", "output format: md, html or json")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	from := fs.String("from", "", "start of a time range (instead of an incident)")
	to := fs.String("to", "now", "end of the time range")
	selector := fs.String("selector", "", `label selector of the time range, e.g. '{site="dc2"}'`)
	raw := fs.Bool("raw", false, "list every timeline entry: no collapsing, no bound")
	maxEntries := fs.Int("max-entries", 0, "most timeline lines (default 300)")
	rulesFlag := fs.String("rules", "", "comma-separated rule files, for time to detect and graphs (default: those the Sources carry)")
	fs.Usage = func() { fmt.Fprint(stderr, cliUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return ExitUsage
	}
	f, err := ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "postmortem: --format: %v\n", err)
		return ExitUsage
	}
	sel := Selection{}
	switch {
	case len(pos) == 1 && *from == "":
		sel.IncidentID = pos[0]
	case len(pos) == 0 && *from != "":
		now := time.Now()
		if sel.From, err = ParseTime(*from, now); err == nil {
			sel.To, err = ParseTime(*to, now)
		}
		if err == nil {
			sel.Matchers, err = ParseSelector(*selector)
		}
		if err == nil {
			err = sel.Validate()
		}
		if err != nil {
			fmt.Fprintf(stderr, "postmortem: %v\n", err)
			return ExitUsage
		}
	default:
		fmt.Fprintf(stderr, "postmortem: name one incident, or give --from (and --to) instead\n%s", cliUsage)
		return ExitUsage
	}
	src, err := open()
	if err != nil {
		fmt.Fprintf(stderr, "postmortem: %v\n", err)
		return ExitError
	}
	if *rulesFlag != "" {
		lookup, err := RulesFromFiles(splitList(*rulesFlag))
		if err != nil {
			fmt.Fprintf(stderr, "postmortem: %v\n", err)
			return ExitUsage
		}
		src.Rules = lookup
	}
	c := Collapse{Raw: *raw, MaxEntries: *maxEntries}
	var r Report
	if sel.IncidentID != "" {
		r, err = BuildReport(ctx, src, sel.IncidentID, ReportOptions{Collapse: c})
	} else {
		r, err = TimelineReport(ctx, src, sel, c)
	}
	if err != nil {
		fmt.Fprintf(stderr, "postmortem: %v\n", err)
		return ExitError
	}
	return writeOut(stdout, stderr, *output, "postmortem", func(w io.Writer) error { return Render(w, r, f) })
}

func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer, open func() (Sources, error)) int {
	fs := flag.NewFlagSet("report fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "md", "output format: md, html or json")
	output := fs.String("output", "", "write the report to this file instead of stdout")
	from := fs.String("from", "-7d", "start of the period")
	to := fs.String("to", "now", "end of the period")
	shift := fs.Duration("shift", 12*time.Hour, "on-call shift length")
	shiftStart := fs.String("shift-start", "08:00", "time of day a shift starts (HH:MM)")
	tz := fs.String("tz", "UTC", "time zone of the shifts (IANA name)")
	bucket := fs.String("bucket", "7d", "MTTA/MTTR trend bucket")
	top := fs.Int("top", 10, "noisiest alerts listed")
	flap := fs.Int("flap-threshold", 3, "firings of one alert in the period that count as flapping")
	fs.Usage = func() { fmt.Fprint(stderr, cliUsage); fs.PrintDefaults() }
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "report fleet: unexpected argument %q\n", pos[0])
		return ExitUsage
	}
	f, err := ParseFormat(*format)
	if err != nil {
		fmt.Fprintf(stderr, "report fleet: --format: %v\n", err)
		return ExitUsage
	}
	o, fromT, toT, err := fleetArgs(*from, *to, *shift, *shiftStart, *tz, *bucket, *top, *flap, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "report fleet: %v\n", err)
		return ExitUsage
	}
	src, err := open()
	if err != nil {
		fmt.Fprintf(stderr, "report fleet: %v\n", err)
		return ExitError
	}
	rep, err := FleetReport(ctx, src, fromT, toT, o)
	if err != nil {
		fmt.Fprintf(stderr, "report fleet: %v\n", err)
		if errors.Is(err, ErrBadSelection) {
			return ExitUsage
		}
		return ExitError
	}
	return writeOut(stdout, stderr, *output, "report fleet", func(w io.Writer) error { return RenderFleet(w, rep, f) })
}

// fleetArgs turns the fleet report's flags (or query parameters) into
// options, naming the bad one.
func fleetArgs(from, to string, shift time.Duration, shiftStart, tz, bucket string, top, flap int, now time.Time) (FleetOptions, time.Time, time.Time, error) {
	o := FleetOptions{ShiftLength: shift, Top: top, FlapThreshold: flap}
	fromT, err := ParseTime(from, now)
	if err != nil {
		return o, fromT, fromT, fmt.Errorf("from: %w", err)
	}
	toT, err := ParseTime(to, now)
	if err != nil {
		return o, fromT, toT, fmt.Errorf("to: %w", err)
	}
	if shift <= 0 {
		return o, fromT, toT, fmt.Errorf("%w: shift %s: must be positive", ErrBadSelection, shift)
	}
	hh, mm, ok := strings.Cut(shiftStart, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return o, fromT, toT, fmt.Errorf("%w: shift start %q: want HH:MM", ErrBadSelection, shiftStart)
	}
	o.ShiftStart = time.Duration(h)*time.Hour + time.Duration(m)*time.Minute
	if o.ShiftStart == 0 {
		o.ShiftStart = o.ShiftLength // a shift starting at midnight: the same boundaries
	}
	if o.Location, err = time.LoadLocation(tz); err != nil {
		return o, fromT, toT, fmt.Errorf("%w: time zone %q: %v", ErrBadSelection, tz, err)
	}
	if o.TrendBucket, err = parseDuration(bucket); err != nil || o.TrendBucket <= 0 {
		return o, fromT, toT, fmt.Errorf("%w: bucket %q: want a positive duration such as 1d or 7d", ErrBadSelection, bucket)
	}
	return o, fromT, toT, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// writeOut renders to stdout, or to a file written whole (a failed render
// leaves no half file).
func writeOut(stdout, stderr io.Writer, path, cmd string, render func(io.Writer) error) int {
	if path == "" {
		if err := render(stdout); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
			return ExitError
		}
		return ExitOK
	}
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return ExitError
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", cmd, err)
		return ExitError
	}
	return ExitOK
}

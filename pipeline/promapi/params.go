package promapi

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/fleetwatch/fleetwatch/pipeline/promapi/exprdepth"
)

// maxPointsPerSeries is Prometheus' limit on (end-start)/step for range
// queries: 60s resolution for a week, or 1h for a year.
const maxPointsPerSeries = 11000

// minTime and maxTime are the defaults for optional start/end, the same
// instants Prometheus uses (web/api/v1.MinTime/MaxTime), so clients that send
// those formatted values back get them accepted.
func minTime() time.Time { return time.Unix(math.MinInt64/1000+62135596801, 0).UTC() }

func maxTime() time.Time { return time.Unix(math.MaxInt64/1000-62135596801, 999999999).UTC() }

// ParseTime parses a Prometheus API time: a Unix timestamp in seconds with
// an optional fraction (millisecond precision), or RFC 3339. Unlike
// Prometheus, NaN, ±Inf and seconds beyond its min/max times are rejected
// instead of wrapping around.
func ParseTime(s string) (time.Time, error) {
	if t, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(t) || t < float64(minTime().Unix()) || t > float64(maxTime().Unix()) {
			return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
		}
		sec, frac := math.Modf(t)
		frac = math.Round(frac*1000) / 1000
		return time.Unix(int64(sec), int64(frac*float64(time.Second))).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	// The standard library only handles four-digit years; accept at least
	// the boundary times Prometheus itself hands out.
	for _, b := range []time.Time{minTime(), maxTime()} {
		if s == b.Format(time.RFC3339Nano) {
			return b, nil
		}
	}
	return time.Time{}, fmt.Errorf("cannot parse %q to a valid timestamp", s)
}

// ParseDuration parses a Prometheus API duration: seconds as a float, or a
// Prometheus duration string such as 5m or 1h30m.
func ParseDuration(s string) (time.Duration, error) {
	if d, err := strconv.ParseFloat(s, 64); err == nil {
		ts := d * float64(time.Second)
		if math.IsNaN(ts) || ts >= float64(math.MaxInt64) || ts < float64(math.MinInt64) {
			return 0, fmt.Errorf("cannot parse %q to a valid duration. It overflows int64", s)
		}
		return time.Duration(ts), nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("cannot parse %q to a valid duration", s)
}

// timeParam reads an optional time parameter, naming it in the error.
func timeParam(r *http.Request, name string, def time.Time) (time.Time, error) {
	v := r.FormValue(name)
	if v == "" {
		return def, nil
	}
	t, err := ParseTime(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid time value for '%s': %w", name, err)
	}
	return t, nil
}

// limitParam reads "limit"; 0 means no limit.
func limitParam(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("limit must be non-negative")
	}
	return n, nil
}

// ParseMatchers parses match[] selectors. Each must contain at least one
// matcher that does not match the empty string, as Prometheus requires, so a
// selector such as {job=~".*"} cannot select every series by accident.
// A selector nested more deeply than exprdepth's default limits is refused
// before it is parsed.
func ParseMatchers(p parser.Parser, selectors []string) ([][]*labels.Matcher, error) {
	sets, err := parseSelectors(p, selectors)
	if err != nil {
		return nil, err
	}
outer:
	for _, ms := range sets {
		for _, m := range ms {
			if m != nil && !m.Matches("") {
				continue outer
			}
		}
		return nil, errors.New("match[] must contain at least one non-empty matcher")
	}
	return sets, nil
}

// parseSelectors parses match[] selectors after checking each against
// exprdepth's default limits.
func parseSelectors(p parser.Parser, selectors []string) ([][]*labels.Matcher, error) {
	for _, s := range selectors {
		if err := exprdepth.Check(s); err != nil {
			return nil, err
		}
	}
	return p.ParseMetricSelectors(selectors)
}

// checkQuery refuses a PromQL expression over exprdepth's default limits
// before the engine parses it, as a bad "query" parameter.
func checkQuery(q string) *apiError {
	if err := exprdepth.Check(q); err != nil {
		return invalidParam(err, "query")
	}
	return nil
}

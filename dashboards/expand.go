package dashboards

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// varRef matches Grafana's variable syntaxes: $name, ${name}, ${name:fmt}
// and [[name]].
var varRef = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// VarRefs returns the dashboard variables expr refers to, once each, in
// order of first use, leaving out Grafana's built-ins ($__interval, …).
func VarRefs(expr string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range varRef.FindAllStringSubmatch(expr, -1) {
		name := m[1] + m[2] + m[3]
		if strings.HasPrefix(name, "__") || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, name)
	}
	return out
}

// Interval is what Grafana knows when it sends a panel's query: the time
// range, the datasource's scrape interval ("Scrape interval" setting,
// 15s by default) and the panel's maximum data points (its width in pixels).
type Interval struct {
	Range          time.Duration
	ScrapeInterval time.Duration
	MaxDataPoints  int
}

// Step is $__interval: the range divided by the data points, never below
// the scrape interval, in whole milliseconds, as Grafana's Prometheus
// datasource computes it (and the step of its range queries).
func (iv Interval) Step() time.Duration {
	scrape := iv.ScrapeInterval
	if scrape <= 0 {
		scrape = 15 * time.Second
	}
	points := iv.MaxDataPoints
	if points <= 0 {
		points = 1000
	}
	step := (iv.Range / time.Duration(points)).Round(time.Millisecond)
	// Prometheus refuses more than 11,000 points per series.
	step = max(step, scrape, (iv.Range/11000)+time.Millisecond)
	return step.Truncate(time.Millisecond)
}

// RateInterval is $__rate_interval: max($__interval + scrape interval,
// 4 × scrape interval).
func (iv Interval) RateInterval() time.Duration {
	scrape := iv.ScrapeInterval
	if scrape <= 0 {
		scrape = 15 * time.Second
	}
	return max(iv.Step()+scrape, 4*scrape)
}

// Expand returns expr with Grafana's interval macros and the dashboard's
// variables replaced, as Grafana does before it sends a Prometheus query.
// values holds each variable's selected values; more than one value, or a
// variable set to "All" (values = [".*"], its allValue), becomes a regex
// alternation. A variable expr uses that is not in values is an error
// naming it.
func Expand(expr string, values map[string][]string, iv Interval) (string, error) {
	step, rate := iv.Step(), iv.RateInterval()
	r := strings.NewReplacer(
		"$__rate_interval_ms", strconv.FormatInt(rate.Milliseconds(), 10),
		"${__rate_interval}", promDuration(rate),
		"$__rate_interval", promDuration(rate),
		"$__interval_ms", strconv.FormatInt(step.Milliseconds(), 10),
		"${__interval}", promDuration(step),
		"$__interval", promDuration(step),
		"$__range_ms", strconv.FormatInt(iv.Range.Milliseconds(), 10),
		"$__range_s", strconv.FormatInt(int64(iv.Range.Seconds()), 10),
		"${__range}", promDuration(iv.Range),
		"$__range", promDuration(iv.Range),
	)
	expr = r.Replace(expr)
	var missing []string
	out := varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		vals, ok := values[name]
		if !ok {
			missing = append(missing, name)
			return ref
		}
		return formatValues(vals)
	})
	if len(missing) > 0 {
		sort.Strings(missing)
		return "", fmt.Errorf("expression %q: no value for variable(s) %s", expr, strings.Join(missing, ", "))
	}
	return out, nil
}

// formatValues is Grafana's default regex formatting of a Prometheus
// variable: one value as is, several as (a|b) with regex characters escaped.
func formatValues(vals []string) string {
	if len(vals) == 1 {
		return vals[0]
	}
	esc := make([]string, len(vals))
	for i, v := range vals {
		esc[i] = regexp.QuoteMeta(v)
	}
	return "(" + strings.Join(esc, "|") + ")"
}

func promDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return model.Duration(d.Truncate(time.Millisecond)).String()
}

// LabelValuesQuery is a parsed Grafana variable query
// label_values(<selector>, <label>) or label_values(<label>).
type LabelValuesQuery struct {
	Selector string // "" for label_values(<label>)
	Label    string
}

var labelName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseVarQuery parses a variable query of the label_values form, the only
// one fleetwatch's dashboards use.
func ParseVarQuery(q string) (LabelValuesQuery, error) {
	s := strings.TrimSpace(q)
	const fn = "label_values("
	if !strings.HasPrefix(s, fn) || !strings.HasSuffix(s, ")") {
		return LabelValuesQuery{}, fmt.Errorf("variable query %q: want label_values(<selector>, <label>) or label_values(<label>)", q)
	}
	inner := s[len(fn) : len(s)-1]
	i := strings.LastIndexByte(inner, ',')
	var out LabelValuesQuery
	if i < 0 {
		out.Label = strings.TrimSpace(inner)
	} else {
		out.Selector, out.Label = strings.TrimSpace(inner[:i]), strings.TrimSpace(inner[i+1:])
		if out.Selector == "" {
			return LabelValuesQuery{}, fmt.Errorf("variable query %q: empty selector", q)
		}
	}
	if !labelName.MatchString(out.Label) {
		return LabelValuesQuery{}, fmt.Errorf("variable query %q: %q is not a label name", q, out.Label)
	}
	return out, nil
}

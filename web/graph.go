package web

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The graphs are hand-made SVG rather than gonum/plot or go-echarts:
// gonum/plot draws with its own fonts and colours (it cannot follow the
// page's dark/light CSS) and pulls in image and font packages, go-echarts
// needs the ECharts script from a CDN (not self-contained, blocked by the
// page's Content-Security-Policy). A line chart with time ticks, value
// ticks and event marks is ~150 lines, styled by the page's stylesheet.

const (
	graphW, graphH       = 800, 200
	padL, padR           = 56, 8
	padT, padB           = 14, 22
	maxSeriesPerGraph    = 10
	maxPointsPerGraphRow = 400
)

// mark is a vertical line on a graph at an incident event.
type mark struct {
	T     time.Time
	Label string
	Class string // created, acknowledged, resolved, event
}

// legendItem names one drawn series.
type legendItem struct {
	Class  string
	Labels string
	Last   string
}

// graphSeries picks at most maxSeriesPerGraph series to draw: those that
// reach the highest values, as the ones that moved most are what an
// on-call engineer looks for. It returns how many were left out.
func graphSeries(in []Series) ([]Series, int) {
	if len(in) <= maxSeriesPerGraph {
		return in, 0
	}
	type ranked struct {
		s   Series
		max float64
	}
	rs := make([]ranked, len(in))
	for i, s := range in {
		m := math.Inf(-1)
		for _, p := range s.Points {
			if p.V > m {
				m = p.V
			}
		}
		rs[i] = ranked{s, m}
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].max > rs[j].max })
	out := make([]Series, maxSeriesPerGraph)
	for i := range out {
		out[i] = rs[i].s
	}
	return out, len(in) - maxSeriesPerGraph
}

// renderSVG draws series between start and end with marks. Every text
// written is escaped; the result is safe to inline.
func renderSVG(series []Series, start, end time.Time, step time.Duration, marks []mark) (template.HTML, []legendItem) {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="graph" viewBox="0 0 %d %d" role="img" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">`, graphW, graphH)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if lo == hi {
		lo, hi = lo-1, hi+1
		if lo >= 0 && hi-2 >= 0 {
			lo = hi - 2
		}
	}
	ticks := niceTicks(lo, hi, 4)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	span := end.Sub(start).Seconds()
	if span <= 0 {
		span = 1
	}
	x := func(t time.Time) float64 {
		return padL + (t.Sub(start).Seconds()/span)*float64(graphW-padL-padR)
	}
	y := func(v float64) float64 {
		return float64(graphH-padB) - (v-lo)/(hi-lo)*float64(graphH-padT-padB)
	}
	// Grid and value axis.
	for _, tv := range ticks {
		yy := y(tv)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>`, padL, graphW-padR, yy, yy)
		fmt.Fprintf(&b, `<text class="axis" x="%d" y="%.1f" text-anchor="end">%s</text>`, padL-4, yy+4, template.HTMLEscapeString(fmtValue(tv)))
	}
	// Time axis.
	for _, tt := range timeTicks(start, end, 6) {
		xx := x(tt)
		fmt.Fprintf(&b, `<line class="grid" x1="%.1f" x2="%.1f" y1="%d" y2="%d"/>`, xx, xx, padT, graphH-padB)
		anchor := "middle"
		if xx > graphW-padR-16 {
			anchor = "end"
		}
		fmt.Fprintf(&b, `<text class="axis" x="%.1f" y="%d" text-anchor="%s">%s</text>`, xx, graphH-6, anchor, tt.UTC().Format("15:04"))
	}
	// Series.
	legend := make([]legendItem, 0, len(series))
	gap := 2 * step
	if gap <= 0 {
		gap = time.Duration(math.MaxInt64)
	}
	for i, s := range series {
		class := "s" + strconv.Itoa(i%maxSeriesPerGraph)
		name := fmtLabels(s.Labels)
		fmt.Fprintf(&b, `<g class="%s"><title>%s</title>`, class, template.HTMLEscapeString(name))
		var pts []string
		var prev time.Time
		flush := func() {
			if len(pts) == 1 {
				// A lone point: a dot, so it is not lost.
				xy := strings.Split(pts[0], ",")
				fmt.Fprintf(&b, `<circle r="1.8" cx="%s" cy="%s"/>`, xy[0], xy[1])
			} else if len(pts) > 1 {
				fmt.Fprintf(&b, `<polyline points="%s"/>`, strings.Join(pts, " "))
			}
			pts = pts[:0]
		}
		last := math.NaN()
		for _, p := range s.Points {
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) || (!prev.IsZero() && p.T.Sub(prev) > gap) {
				flush()
			}
			prev = p.T
			if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
				continue
			}
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(p.T), y(p.V)))
			last = p.V
		}
		flush()
		b.WriteString(`</g>`)
		legend = append(legend, legendItem{Class: class, Labels: name, Last: fmtValue(last)})
	}
	// Marks.
	for _, m := range marks {
		if m.T.Before(start) || m.T.After(end) {
			continue
		}
		xx := x(m.T)
		fmt.Fprintf(&b, `<g class="mark %s"><title>%s %s</title><line x1="%.1f" x2="%.1f" y1="%d" y2="%d"/><text x="%.1f" y="%d">%s</text></g>`,
			template.HTMLEscapeString(m.Class), template.HTMLEscapeString(fmtTime(m.T)), template.HTMLEscapeString(m.Label),
			xx, xx, padT, graphH-padB, xx+2, padT-3, template.HTMLEscapeString(m.Label))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()), legend //nolint:gosec // every text above is escaped
}

// niceTicks returns about n round values covering [lo, hi].
func niceTicks(lo, hi float64, n int) []float64 {
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw*0.75 {
			step = m * mag
			break
		}
	}
	first := math.Floor(lo/step) * step
	var out []float64
	for i := 0; len(out) < 3*n; i++ {
		v := first + float64(i)*step
		if v > hi+step*0.5 {
			break
		}
		// Round away float noise (0.6000000000000001).
		v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
		out = append(out, v)
	}
	if len(out) < 2 {
		out = append(out, first+step)
	}
	return out
}

// timeTicks returns round times between start and end, about n of them.
func timeTicks(start, end time.Time, n int) []time.Time {
	steps := []time.Duration{time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}
	span := end.Sub(start)
	step := steps[len(steps)-1]
	for _, s := range steps {
		if span/s <= time.Duration(n) {
			step = s
			break
		}
	}
	var out []time.Time
	for t := start.Truncate(step); !t.After(end); t = t.Add(step) {
		if !t.Before(start) {
			out = append(out, t)
		}
	}
	return out
}

func fmtValue(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	a := math.Abs(v)
	switch {
	case a == 0:
		return "0"
	case a >= 1e9:
		return trimFloat(v/1e9) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6) + "M"
	case a >= 1e3:
		return trimFloat(v/1e3) + "k"
	case a < 0.01:
		return strconv.FormatFloat(v, 'g', 3, 64)
	default:
		return trimFloat(v)
	}
}

func trimFloat(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
}

func fmtLabels(m map[string]string) string {
	name := m["__name__"]
	var parts []string
	for _, l := range sortedLabels(m) {
		if l.K == "__name__" {
			continue
		}
		parts = append(parts, l.K+"="+strconv.Quote(l.V))
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

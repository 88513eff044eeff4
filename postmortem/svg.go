package postmortem

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
	"time"
)

// The graphs are hand-made SVG: a line chart needs a few dozen lines of
// code, the output is small, deterministic (golden files) and needs no
// script, font or stylesheet from anywhere, which a self-contained report
// requires. go-echarts renders through JavaScript fetched from a CDN, and
// gonum/plot brings a font and image stack into the binary for the same
// picture.

const (
	svgW, svgH                   = 900, 280
	padL, padR, padTop, padBot   = 64, 16, 22, 36
	plotW                        = svgW - padL - padR
	plotH                        = svgH - padTop - padBot
	maxPointsPerSeriesInTheGraph = 2000
)

// seriesColor is the i-th series' colour.
func seriesColor(i int) string {
	const palette = "#1f77b4#ff7f0e#2ca02c#9467bd#8c564b#17becf#7f7f7f#bcbd22"
	i %= len(palette) / 7
	return palette[i*7 : i*7+7]
}

func markColor(kind string) string {
	switch kind {
	case "onset":
		return "#d62728"
	case "alert":
		return "#e377c2"
	case "ack":
		return "#1f77b4"
	case "mitigated":
		return "#2ca02c"
	case "resolved":
		return "#17becf"
	case "page":
		return "#ff7f0e"
	case "remediation":
		return "#8c564b"
	case "change":
		return "#9467bd"
	}
	return "#7f7f7f"
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// fmtValue prints an axis value briefly (1.5k, 2M, 0.25).
func fmtValue(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'g', 3, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 3, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 3, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// graphSVG draws g as an inline SVG element: the series as lines (broken
// where samples are missing), the threshold dashed, and each mark as a
// numbered vertical line (the legend below the graph names them).
func graphSVG(g Graph) string {
	var b strings.Builder
	t0, t1 := g.From.UnixMilli(), g.To.UnixMilli()
	if t1 <= t0 {
		t1 = t0 + 1
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range g.Series {
		for _, p := range s.Points {
			lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
		}
	}
	if g.Threshold != nil {
		lo, hi = math.Min(lo, *g.Threshold), math.Max(hi, *g.Threshold)
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	span := hi - lo
	lo, hi = lo-span*0.05, hi+span*0.05
	x := func(t int64) float64 { return padL + float64(t-t0)/float64(t1-t0)*plotW }
	y := func(v float64) float64 { return padTop + (hi-v)/(hi-lo)*plotH }

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-label="%s">`, svgW, svgH, html.EscapeString(g.Title))
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fff" stroke="#ccc"/>`, padL, padTop, plotW, plotH)
	// Y grid and labels.
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		yy := y(v)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#eee"/>`, padL, padL+plotW, num(yy), num(yy))
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" text-anchor="end" fill="#555">%s</text>`, padL-4, num(yy+4), html.EscapeString(fmtValue(v)))
	}
	// X ticks: six, at round times.
	tick := niceTick(time.Duration(t1-t0) * time.Millisecond / 6)
	first := g.From.Truncate(tick)
	if first.Before(g.From) {
		first = first.Add(tick)
	}
	for t := first; !t.After(g.To); t = t.Add(tick) {
		xx := x(t.UnixMilli())
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" stroke="#eee"/>`, num(xx), num(xx), padTop, padTop+plotH)
		label := t.UTC().Format("15:04")
		if tick < time.Minute {
			label = t.UTC().Format("15:04:05")
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="11" text-anchor="middle" fill="#555">%s</text>`, num(xx), padTop+plotH+14, label)
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" fill="#555">UTC, %s to %s</text>`, padL, svgH-4, g.From.UTC().Format(tsLayout), g.To.UTC().Format(tsLayout))
	// Series.
	gap := int64(2*g.Step*1000) + 1
	for i, s := range g.Series {
		color := seriesColor(i)
		pts := s.Points
		if len(pts) > maxPointsPerSeriesInTheGraph {
			pts = pts[:maxPointsPerSeriesInTheGraph]
		}
		var path strings.Builder
		for j, p := range pts {
			cmd := "L"
			if j == 0 || p.T-pts[j-1].T > gap {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%s %s", cmd, num(x(p.T)), num(y(p.V)))
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"><title>%s</title></path>`, path.String(), color, html.EscapeString(s.Name))
	}
	if g.Threshold != nil {
		yy := y(*g.Threshold)
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" stroke="#d62728" stroke-dasharray="6 4"/>`, padL, padL+plotW, num(yy), num(yy))
		fmt.Fprintf(&b, `<text x="%d" y="%s" font-size="11" text-anchor="end" fill="#d62728">threshold %s</text>`, padL+plotW-4, num(yy-4), html.EscapeString(fmtValue(*g.Threshold)))
	}
	// Marks.
	for i, m := range g.Marks {
		xx := x(m.Time.UnixMilli())
		c := markColor(m.Kind)
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" stroke="%s" stroke-width="1"><title>%s %s</title></line>`,
			num(xx), num(xx), padTop, padTop+plotH, c, html.EscapeString(m.Label), m.Time.UTC().Format(tsLayout))
		fmt.Fprintf(&b, `<text x="%s" y="%d" font-size="10" text-anchor="middle" fill="%s">%d</text>`, num(xx), padTop-4-(i%2)*9, c, i+1)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceTick rounds d up to a tick length a person reads easily.
func niceTick(d time.Duration) time.Duration {
	for _, t := range []time.Duration{10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute,
		10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if d <= t {
			return t
		}
	}
	return 24 * time.Hour * time.Duration(1+d/(24*time.Hour))
}

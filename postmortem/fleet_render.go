package postmortem

import (
	"bufio"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// RenderFleet writes a fleet report in format (md, html or json).
func RenderFleet(w io.Writer, fs FleetSummary, format string) error {
	f, err := ParseFormat(format)
	if err != nil {
		return err
	}
	switch f {
	case FormatJSON:
		return writeJSON(w, fs)
	case FormatHTML:
		bw := bufio.NewWriter(w)
		if err := newFleetTemplate().Execute(bw, fs); err != nil {
			return err
		}
		return bw.Flush()
	}
	bw := bufio.NewWriter(w)
	renderFleetMarkdown(bw, fs)
	return bw.Flush()
}

func secs(s float64) string {
	if s == 0 {
		return "-"
	}
	return fmtDur(time.Duration(s * float64(time.Second)))
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", f*100) }

// rate is the success rate, "-" when no run acted.
func rate(r RemediationRate) string {
	if r.Succeeded+r.Failed+r.Escalated == 0 {
		return "-"
	}
	return pct(r.SuccessRate)
}

// skipped is the skip count with the guards that decided.
func skipped(r RemediationRate) string {
	if r.Skipped == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", r.Skipped, skippedBy(r.SkippedBy))
}

// barWidth draws a shift's pages as a bar of 8 px a page, at most 400.
func barWidth(pages int) int { return min(pages*8, 400) }

func skippedBy(m map[string]int) string {
	var parts []string
	for _, k := range sortedIntKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func sortedIntKeys(m map[string]int) []string { return slices.Sorted(maps.Keys(m)) }

func renderFleetMarkdown(w *bufio.Writer, fs FleetSummary) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Fleet report %s to %s UTC\n\n", ts(fs.From), ts(fs.To))
	p("Generated %s UTC by fleetwatch. %d incidents, %d pages.\n\n", ts(fs.Generated), fs.Incidents, fs.Pages)
	p("## Alerts worth a second look\n\n")
	if len(fs.Candidates) == 0 {
		p("None.\n")
	}
	mdList(w, fs.Candidates)
	p("\n## Noisiest alerts\n\n| alert | firings | devices | incidents | acknowledged | median firing |\n|---|---|---|---|---|---|\n")
	for _, n := range fs.NoisiestAlerts {
		p("| %s | %d | %d | %d | %d | %s |\n", mdCell(n.Alert), n.Firings, n.Devices, n.Incidents, n.Acknowledged, secs(n.MedianFiringSeconds))
	}
	p("\n## Flapping rules\n\n")
	if len(fs.FlappingRules) == 0 {
		p("None.\n")
	} else {
		p("| alert | flapping alerts | firings | worst | example |\n|---|---|---|---|---|\n")
		for _, f := range fs.FlappingRules {
			p("| %s | %d | %d | %d | %s |\n", mdCell(f.Alert), f.Flapping, f.Firings, f.Worst, mdCell(f.Example))
		}
	}
	p("\n## Pages per on-call shift (%s)\n\n| shift start (UTC) | end | pages | incidents |\n|---|---|---|---|\n", fs.ShiftLength)
	for _, s := range fs.PagesPerShift {
		p("| %s | %s | %d | %d |\n", ts(s.Start), ts(s.End), s.Pages, s.Incidents)
	}
	for _, t := range []struct {
		title  string
		trends []Trend
	}{{"route", fs.TrendByRoute}, {"rule", fs.TrendByRule}} {
		p("\n## MTTA / MTTR per %s (buckets of %s)\n\n| %s | bucket start | incidents | acknowledged | MTTA | resolved | MTTR |\n|---|---|---|---|---|---|---|\n", t.title, fs.TrendBucket, t.title)
		for _, tr := range t.trends {
			for _, pt := range tr.Points {
				p("| %s | %s | %d | %d | %s | %d | %s |\n", mdCell(tr.Key), ts(pt.Start), pt.Incidents, pt.Acknowledged, secs(pt.MTTASeconds), pt.Resolved, secs(pt.MTTRSeconds))
			}
		}
	}
	p("\n## Remediation success rates\n\n")
	if len(fs.Remediation) == 0 {
		p("No remediation ran.\n")
		return
	}
	p("| action | runs | succeeded | failed | escalated | skipped (by guard) | success rate |\n|---|---|---|---|---|---|---|\n")
	for _, r := range fs.Remediation {
		p("| %s | %d | %d | %d | %d | %s | %s |\n", mdCell(r.Action), r.Runs, r.Succeeded, r.Failed, r.Escalated, mdCell(skipped(r)), rate(r))
	}
}

func newFleetTemplate() *template.Template {
	return template.Must(template.New("fleet").Funcs(template.FuncMap{
		"ts": ts, "secs": secs, "rate": rate, "skipped": skipped, "bar": barWidth,
	}).Parse(fleetHTML))
}

const fleetHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fleet report {{ts .From}} to {{ts .To}} UTC</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left}th{background:#f5f5f5}
.bar{display:inline-block;height:10px;background:#ff7f0e;vertical-align:middle}
</style>
</head>
<body>
<h1>Fleet report {{ts .From}} to {{ts .To}} UTC</h1>
<p>Generated {{ts .Generated}} UTC by fleetwatch. {{.Incidents}} incidents, {{.Pages}} pages.</p>
<h2>Alerts worth a second look</h2>
<ul>{{range .Candidates}}<li>{{.}}</li>{{else}}<li>None.</li>{{end}}</ul>
<h2>Noisiest alerts</h2>
<table><tr><th>alert</th><th>firings</th><th>devices</th><th>incidents</th><th>acknowledged</th><th>median firing</th></tr>
{{range .NoisiestAlerts}}<tr><td>{{.Alert}}</td><td>{{.Firings}}</td><td>{{.Devices}}</td><td>{{.Incidents}}</td><td>{{.Acknowledged}}</td><td>{{secs .MedianFiringSeconds}}</td></tr>
{{end}}</table>
<h2>Flapping rules</h2>
{{if .FlappingRules}}<table><tr><th>alert</th><th>flapping alerts</th><th>firings</th><th>worst</th><th>example</th></tr>
{{range .FlappingRules}}<tr><td>{{.Alert}}</td><td>{{.Flapping}}</td><td>{{.Firings}}</td><td>{{.Worst}}</td><td>{{.Example}}</td></tr>
{{end}}</table>{{else}}<p>None.</p>{{end}}
<h2>Pages per on-call shift ({{.ShiftLength}})</h2>
<table><tr><th>shift start (UTC)</th><th>end</th><th>pages</th><th>incidents</th></tr>
{{range .PagesPerShift}}<tr><td>{{ts .Start}}</td><td>{{ts .End}}</td><td><span class="bar" style="width:{{bar .Pages}}px"></span> {{.Pages}}</td><td>{{.Incidents}}</td></tr>
{{end}}</table>
<h2>MTTA / MTTR per route (buckets of {{.TrendBucket}})</h2>
<table><tr><th>route</th><th>bucket start</th><th>incidents</th><th>acknowledged</th><th>MTTA</th><th>resolved</th><th>MTTR</th></tr>
{{range $t := .TrendByRoute}}{{range .Points}}<tr><td>{{$t.Key}}</td><td>{{ts .Start}}</td><td>{{.Incidents}}</td><td>{{.Acknowledged}}</td><td>{{secs .MTTASeconds}}</td><td>{{.Resolved}}</td><td>{{secs .MTTRSeconds}}</td></tr>
{{end}}{{end}}</table>
<h2>MTTA / MTTR per rule (buckets of {{.TrendBucket}})</h2>
<table><tr><th>rule</th><th>bucket start</th><th>incidents</th><th>acknowledged</th><th>MTTA</th><th>resolved</th><th>MTTR</th></tr>
{{range $t := .TrendByRule}}{{range .Points}}<tr><td>{{$t.Key}}</td><td>{{ts .Start}}</td><td>{{.Incidents}}</td><td>{{.Acknowledged}}</td><td>{{secs .MTTASeconds}}</td><td>{{.Resolved}}</td><td>{{secs .MTTRSeconds}}</td></tr>
{{end}}{{end}}</table>
<h2>Remediation success rates</h2>
{{if .Remediation}}<table><tr><th>action</th><th>runs</th><th>succeeded</th><th>failed</th><th>escalated</th><th>skipped (by guard)</th><th>success rate</th></tr>
{{range .Remediation}}<tr><td>{{.Action}}</td><td>{{.Runs}}</td><td>{{.Succeeded}}</td><td>{{.Failed}}</td><td>{{.Escalated}}</td><td>{{skipped .}}</td><td>{{rate .}}</td></tr>
{{end}}</table>{{else}}<p>No remediation ran.</p>{{end}}
</body>
</html>
`

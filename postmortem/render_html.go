package postmortem

import (
	"bufio"
	"html/template"
	"io"
	"strings"
	"time"
)

// htmlView is what the HTML template reads: the report plus what the
// template cannot compute.
type htmlView struct {
	Report
	Metrics  []htmlMetric
	Impact   []impactRow
	More     int
	Graphs   []htmlGraph
	HasInc   bool
	Resolved bool
}

type htmlMetric struct {
	Name string
	M    Measure
}

type htmlGraph struct {
	Graph
	SVG template.HTML
}

func renderHTML(w io.Writer, r Report) error {
	v := htmlView{Report: r, HasInc: r.Incident != nil}
	if m := r.Metrics; m != nil {
		v.Metrics = []htmlMetric{{"Time to detect", m.TimeToDetect}, {"Time to acknowledge", m.TimeToAcknowledge},
			{"Time to mitigate", m.TimeToMitigate}, {"Time to resolve", m.TimeToResolve}, {"Impact duration", m.ImpactDuration}}
		v.Impact = impactRows(m.Impact)
		v.More = impactTotal(m.Impact) - len(v.Impact)
	}
	if r.Incident != nil {
		v.Resolved = r.Incident.State == "resolved"
	}
	for _, g := range r.Graphs {
		// graphSVG escapes every text it writes.
		v.Graphs = append(v.Graphs, htmlGraph{Graph: g, SVG: template.HTML(graphSVG(g))}) // #nosec G203 -- built from escaped parts
	}
	bw := bufio.NewWriter(w)
	if err := newHTMLTemplate().Execute(bw, v); err != nil {
		return err
	}
	return bw.Flush()
}

func newHTMLTemplate() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"ts":     ts,
		"when":   entryWhen,
		"what":   entryWhat,
		"dur":    func(s float64) string { return fmtDur(time.Duration(s * float64(time.Second))) },
		"join":   strings.Join,
		"inc":    func(i int) int { return i + 1 },
		"color":  markColor,
		"scolor": seriesColor,
		"label":  labelString,
		"dash":   orDash,
		"impactCounts": func(im *IncidentMetrics) string {
			return impactCounts(im.Impact)
		},
	}).Parse(htmlTemplate))
}

const htmlTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1000px;padding:0 1em;color:#222}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;margin:.5em 0}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.meta{color:#555}.muted{color:#777}.tl td:first-child{white-space:nowrap}
.cat-incident{background:#eef5ff}.cat-page{background:#fff6e8}.cat-remediation{background:#f1f8ee}.cat-change,.cat-lifecycle{background:#f6f0fb}
.collapsed{font-style:italic}.prompt{color:#777;font-style:italic}.badge{display:inline-block;padding:0 6px;border-radius:8px;background:#eee}
.legend span{margin-right:1em;white-space:nowrap}code{background:#f5f5f5;padding:0 3px}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta"><strong>Status:</strong> {{.Status}}<br>
{{with .Incident}}<strong>Incident:</strong> {{.ID}} · severity {{dash .Severity}} · route {{dash .Route}} · receiver {{dash .Receiver}}<br>
<strong>Opened:</strong> {{ts .CreatedAt}} UTC{{if $.Resolved}} · <strong>Resolved:</strong> {{ts .ResolvedAt}} UTC{{end}}<br>{{end}}
<strong>Generated:</strong> {{ts .Generated}} UTC by fleetwatch — a draft: check every fact, fill in the action items and lessons.</p>

<h2 id="summary">Summary</h2>
<p>{{.Summary}}</p>
{{if .HasInc}}
<h2 id="metrics">Incident metrics</h2>
<table><tr><th>metric</th><th>value</th><th>from</th><th>to</th><th>how</th></tr>
{{range .Metrics}}<tr><td>{{.Name}}</td><td><strong>{{.M}}</strong></td><td>{{ts .M.From}}</td><td>{{ts .M.To}}</td><td class="muted">{{.M.Basis}}</td></tr>
{{end}}</table>

<h2 id="impact">Impact</h2>
<p>{{.Report.Metrics.Impact.Alerts}} alert(s) on {{impactCounts .Report.Metrics}}.</p>
{{if .Impact}}<table><tr><th>kind</th><th>name</th><th>affected for</th><th>from</th><th>to</th><th>alerts</th></tr>
{{range .Impact}}<tr><td>{{.Kind}}</td><td>{{.It.Name}}</td><td>{{dur .It.Seconds}}</td><td>{{ts .It.From}}</td><td>{{ts .It.To}}</td><td>{{join .It.Alert ", "}}</td></tr>
{{end}}</table>{{if .More}}<p class="muted">… and {{.More}} more (see the JSON report).</p>{{end}}{{end}}

<h2 id="root-causes">Root-cause candidates</h2>
<p class="muted">Ranked by which signal moved first; confirm or strike each.</p>
<ol>{{range .RootCauses}}<li>{{if not .At.IsZero}}{{ts .At}} — {{end}}{{.What}} <span class="muted">({{.Evidence}}; source {{.Source}})</span></li>
{{else}}<li>None found.</li>{{end}}</ol>

<h2 id="trigger">Trigger</h2>
<ul>{{range .Trigger}}<li>{{.}}</li>{{end}}</ul>

<h2 id="detection">Detection</h2>
<ul>{{range .Detection}}<li>{{.}}</li>{{end}}</ul>

<h2 id="response">Response</h2>
<ul>{{range .Response}}<li>{{.}}</li>{{end}}</ul>
{{if .Pages}}<h3>Pages</h3>
<table><tr><th>created</th><th>receiver</th><th>action</th><th>state</th><th>attempts</th><th>sent</th><th>last error</th></tr>
{{range .Pages}}<tr><td>{{ts .Created}}</td><td>{{.Receiver}}</td><td>{{.Action}}</td><td>{{.State}}</td><td>{{.Attempts}}</td><td>{{ts .SentAt}}</td><td>{{.LastError}}</td></tr>
{{end}}</table>{{end}}
{{if .Remediations}}<h3>Remediation</h3>
<table><tr><th>created</th><th>action</th><th>target</th><th>status</th><th>guard / reason</th><th>actor</th><th>dry run</th><th>finished</th></tr>
{{range .Remediations}}<tr><td>{{ts .CreatedAt}}</td><td>{{.Action}}</td><td>{{dash .Target}}</td><td>{{.Status}}</td><td>{{dash .Reason}}</td><td>{{.Actor}}</td><td>{{.DryRun}}</td><td>{{ts .FinishedAt}}</td></tr>
{{end}}</table>{{end}}

<h2 id="recovery">Recovery</h2>
<ul>{{range .Recovery}}<li>{{.}}</li>{{end}}</ul>

{{if .Graphs}}<h2 id="graphs">Graphs</h2>
{{range .Graphs}}<h3>{{.Title}}</h3>
<p class="muted"><code>{{.Expr}}</code>{{if .Threshold}} · threshold {{.Threshold}}{{end}}</p>
{{.SVG}}
<p class="legend">{{range $i, $m := .Marks}}<span style="color:{{color $m.Kind}}">{{inc $i}} {{$m.Label}} {{ts $m.Time}}</span> {{end}}</p>
<p class="legend muted">{{range $i, $s := .Series}}<span><span style="color:{{scolor $i}}">■</span> {{$s.Name}}</span> {{end}}</p>
{{end}}{{end}}
{{end}}
<h2 id="timeline">Timeline</h2>
<p class="muted">{{ts .Timeline.From}} to {{ts .Timeline.To}} UTC · {{.Timeline.RawEntries}} entries read, {{len .Timeline.Entries}} lines shown (flapping alerts and bursts collapsed).</p>
<table class="tl"><tr><th>time (UTC)</th><th>source</th><th>kind</th><th>what</th></tr>
{{range .Timeline.Entries}}<tr class="cat-{{.Category}}{{if .Collapsed}} collapsed{{end}}"><td>{{when .}}</td><td>{{.Source}}</td><td>{{.Kind}}</td><td>{{what .}}</td></tr>
{{end}}</table>
{{if .HasInc}}
<h2 id="action-items">Action items</h2>
<table><tr><th>action item</th><th>type</th><th>owner</th><th>ticket</th></tr>
{{range .ActionItems}}<tr><td class="prompt">{{.}}</td><td></td><td></td><td></td></tr>
{{end}}</table>

<h2 id="lessons">Lessons learned</h2>
{{range .Lessons}}<h3>{{.}}</h3><p class="prompt">To be written.</p>
{{end}}{{end}}
{{if .Missing}}<h2 id="missing">Not in this draft</h2>
<ul>{{range .Missing}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body>
</html>
`

package postmortem

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"
)

// Report formats.
const (
	FormatMarkdown = "md"
	FormatHTML     = "html"
	FormatJSON     = "json"
)

// ParseFormat accepts md (markdown), html and json.
func ParseFormat(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "md", "markdown":
		return FormatMarkdown, nil
	case "html":
		return FormatHTML, nil
	case "json":
		return FormatJSON, nil
	}
	return "", fmt.Errorf("format %q: want md, html or json", s)
}

// ContentType is the HTTP Content-Type of a format.
func ContentType(format string) string {
	switch format {
	case FormatHTML:
		return "text/html; charset=utf-8"
	case FormatJSON:
		return "application/json"
	}
	return "text/markdown; charset=utf-8"
}

// Render writes the report in format (md, html or json).
func Render(w io.Writer, r Report, format string) error {
	f, err := ParseFormat(format)
	if err != nil {
		return err
	}
	switch f {
	case FormatJSON:
		return writeJSON(w, r)
	case FormatHTML:
		return renderHTML(w, r)
	}
	bw := bufio.NewWriter(w)
	renderMarkdown(bw, r)
	return bw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

const tsLayout = "2006-01-02 15:04:05"

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(tsLayout)
}

// mdCell makes text safe inside a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

// mdText makes text safe as a Markdown paragraph or list item.
func mdText(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "<", "&lt;")
	return s
}

// entryWhen is the entry's time, with the last one of a collapsed line.
func entryWhen(e Entry) string {
	s := ts(e.Time)
	if !e.Until.IsZero() && e.Until.After(e.Time) {
		s += " – " + e.Until.UTC().Format("15:04:05")
		if e.Until.UTC().YearDay() != e.Time.UTC().YearDay() {
			s = ts(e.Time) + " – " + ts(e.Until)
		}
	}
	return s
}

// entryWhat is the entry's summary with its count and actor.
func entryWhat(e Entry) string {
	s := e.Summary
	if e.Count > 1 && e.Collapsed != CollapsedFlapping && e.Collapsed != CollapsedGroup && e.Collapsed != CollapsedOmitted {
		s += fmt.Sprintf(" (×%d)", e.Count)
	}
	if who, ok := strings.CutPrefix(e.Actor, "user:"); ok && !strings.Contains(s, who) {
		s += " — " + who
	}
	return s
}

func renderMarkdown(w *bufio.Writer, r Report) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# %s\n\n", mdText(r.Title))
	p("**Status:** %s  \n", mdText(r.Status))
	if r.Incident != nil {
		inc := r.Incident
		p("**Incident:** %s · severity %s · route %s · receiver %s  \n", mdText(inc.ID), mdText(orDash(inc.Severity)), mdText(orDash(inc.Route)), mdText(orDash(inc.Receiver)))
		p("**Opened:** %s UTC", ts(inc.CreatedAt))
		if !inc.ResolvedAt.IsZero() && inc.State == "resolved" {
			p(" · **Resolved:** %s UTC", ts(inc.ResolvedAt))
		}
		p("  \n")
	}
	p("**Generated:** %s UTC by fleetwatch — a draft: check every fact, fill in the action items and lessons.\n\n", ts(r.Generated))
	p("## Summary\n\n%s\n\n", mdText(r.Summary))
	if m := r.Metrics; m != nil {
		p("## Incident metrics\n\n| metric | value | from | to | how |\n|---|---|---|---|---|\n")
		for _, row := range []struct {
			name string
			m    Measure
		}{{"Time to detect", m.TimeToDetect}, {"Time to acknowledge", m.TimeToAcknowledge}, {"Time to mitigate", m.TimeToMitigate},
			{"Time to resolve", m.TimeToResolve}, {"Impact duration", m.ImpactDuration}} {
			p("| %s | %s | %s | %s | %s |\n", row.name, row.m, ts(row.m.From), ts(row.m.To), mdCell(row.m.Basis))
		}
		p("\n## Impact\n\n%d alert(s) on %s.\n\n", m.Impact.Alerts, impactCounts(m.Impact))
		rows := impactRows(m.Impact)
		if len(rows) > 0 {
			p("| kind | name | affected for | from | to | alerts |\n|---|---|---|---|---|---|\n")
			for _, row := range rows {
				p("| %s | %s | %s | %s | %s | %s |\n", row.Kind, mdCell(row.It.Name), fmtDur(time.Duration(row.It.Seconds*float64(time.Second))),
					ts(row.It.From), ts(row.It.To), mdCell(strings.Join(row.It.Alert, ", ")))
			}
			if n := impactTotal(m.Impact) - len(rows); n > 0 {
				p("\n… and %d more (see the JSON report).\n", n)
			}
			p("\n")
		}
		p("## Root-cause candidates\n\nRanked by which signal moved first; confirm or strike each.\n\n")
		for i, c := range r.RootCauses {
			at := ""
			if !c.At.IsZero() {
				at = ts(c.At) + " — "
			}
			p("%d. %s%s (%s; source %s)\n", i+1, at, mdText(c.What), mdText(c.Evidence), mdText(c.Source))
		}
		if len(r.RootCauses) == 0 {
			p("None found.\n")
		}
		p("\n## Trigger\n\n")
		mdList(w, r.Trigger)
		p("\n## Detection\n\n")
		mdList(w, r.Detection)
		p("\n## Response\n\n")
		mdList(w, r.Response)
		if len(r.Pages) > 0 {
			p("\n### Pages\n\n| created | receiver | action | state | attempts | sent | last error |\n|---|---|---|---|---|---|---|\n")
			for _, pg := range r.Pages {
				p("| %s | %s | %s | %s | %d | %s | %s |\n", ts(pg.Created), mdCell(pg.Receiver), mdCell(pg.Action), mdCell(pg.State), pg.Attempts, ts(pg.SentAt), mdCell(pg.LastError))
			}
		}
		if len(r.Remediations) > 0 {
			p("\n### Remediation\n\n| created | action | target | status | guard / reason | actor | dry run | finished |\n|---|---|---|---|---|---|---|---|\n")
			for _, rr := range r.Remediations {
				p("| %s | %s | %s | %s | %s | %s | %v | %s |\n", ts(rr.CreatedAt), mdCell(rr.Action), mdCell(orDash(rr.Target)), mdCell(rr.Status),
					mdCell(orDash(rr.Reason)), mdCell(rr.Actor), rr.DryRun, ts(rr.FinishedAt))
			}
		}
		p("\n## Recovery\n\n")
		mdList(w, r.Recovery)
		if len(r.Graphs) > 0 {
			p("\n## Graphs\n\nThe HTML report draws these series with the timeline's marks:\n\n")
			for _, g := range r.Graphs {
				p("- %s: `%s` (%d series, %s to %s)\n", mdText(g.Title), strings.ReplaceAll(g.Expr, "`", "'"), len(g.Series), ts(g.From), ts(g.To))
			}
		}
	} else {
		p("## Summary of the range\n\n%s\n", mdText(r.Timeline.Selection))
	}
	p("\n## Timeline\n\n")
	tl := r.Timeline
	p("%s to %s UTC · %d entries read, %d lines shown (flapping alerts and bursts collapsed).\n\n", ts(tl.From), ts(tl.To), tl.RawEntries, len(tl.Entries))
	p("| time (UTC) | source | kind | what |\n|---|---|---|---|\n")
	for _, e := range tl.Entries {
		p("| %s | %s | %s | %s |\n", entryWhen(e), mdCell(e.Source), mdCell(e.Kind), mdCell(entryWhat(e)))
	}
	if r.Incident != nil {
		p("\n## Action items\n\n| action item | type | owner | ticket |\n|---|---|---|---|\n")
		for _, a := range r.ActionItems {
			p("| %s | | | |\n", mdCell(a))
		}
		p("\n## Lessons learned\n\n")
		for _, l := range r.Lessons {
			p("### %s\n\n_To be written._\n\n", mdText(l))
		}
	}
	if len(r.Missing) > 0 {
		p("\n## Not in this draft\n\n")
		mdList(w, r.Missing)
	}
}

func mdList(w *bufio.Writer, items []string) {
	for _, s := range items {
		fmt.Fprintf(w, "- %s\n", mdText(s))
	}
}

type impactRow struct {
	Kind string
	It   ImpactItem
}

// impactRows lists the impact, at most 10 items of each kind.
func impactRows(im Impact) []impactRow {
	var out []impactRow
	for _, k := range []struct {
		kind  string
		items []ImpactItem
	}{{"site", im.Sites}, {"rack", im.Racks}, {"switch", im.Switches}, {"server", im.Servers}, {"service", im.Services}} {
		for i, it := range k.items {
			if i >= 10 {
				break
			}
			out = append(out, impactRow{Kind: k.kind, It: it})
		}
	}
	return out
}

func impactTotal(im Impact) int {
	return len(im.Sites) + len(im.Racks) + len(im.Switches) + len(im.Servers) + len(im.Services)
}

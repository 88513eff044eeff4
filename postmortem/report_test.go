package postmortem

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func TestGoldenScriptedIncident(t *testing.T) {
	src := scripted(t)
	r, err := BuildReport(context.Background(), src, incID, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FormatMarkdown, FormatHTML, FormatJSON} {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			golden(t, "incident."+f, buf.Bytes())
		})
	}
}

// TestScriptedIncidentFacts checks, independently of the golden files,
// what the on-call engineer reads first.
func TestScriptedIncidentFacts(t *testing.T) {
	src := scripted(t)
	r, err := BuildReport(context.Background(), src, incID, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metrics
	checks := []struct {
		name      string
		got, want any
	}{
		{"onset", m.Onset, onset},
		{"first alert", m.FirstAlert, at("17:24:00")},
		{"time to detect", m.TimeToDetect.Duration(), 2 * time.Minute},
		{"time to acknowledge", m.TimeToAcknowledge.Duration(), at("17:29:10").Sub(at("17:24:30"))},
		{"acknowledged by", m.AckedBy, "user:alice"},
		{"time to mitigate", m.TimeToMitigate.Duration(), at("17:32:10").Sub(at("17:24:30"))},
		{"time to resolve", m.TimeToResolve.Duration(), at("17:40:30").Sub(at("17:24:30"))},
		{"impact duration", m.ImpactDuration.Duration(), at("17:40:30").Sub(onset)},
		{"servers", len(m.Impact.Servers), 1},
		{"racks", len(m.Impact.Racks), 1},
		{"sites", len(m.Impact.Sites), 1},
		{"services", len(m.Impact.Services), 1},
		{"alerts", m.Impact.Alerts, 2},
		{"graphs", len(r.Graphs), 2},
		{"pages", len(r.Pages), 3},
		{"first page attempts", r.Pages[0].Attempts, 2},
		{"remediation runs", len(r.Remediations), 2},
		{"first root cause", r.RootCauses[0].What, "switch sw-r12 port Et12 down"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
	// storage was affected from the first alert to its resolution.
	if s := m.Impact.Services[0]; s.Name != "storage" || s.From != at("17:24:00") || s.To != at("17:32:30") {
		t.Errorf("service impact = %+v, want storage from 17:24:00 to 17:32:30", s)
	}
	// The first signal that moved is the IML's link failure of 16:32:56
	// or the switch's traps, before the alert; each candidate names a time.
	for i, c := range r.RootCauses[1:] {
		if c.At.IsZero() {
			t.Errorf("candidate %d has no time: %+v", i+1, c)
		}
		if i > 0 && c.At.Before(r.RootCauses[i].At) {
			t.Errorf("candidates not ordered by time: %v before %v", c.At, r.RootCauses[i].At)
		}
	}
	// The graph of the trigger plots node_network_up with the threshold 0
	// and marks the onset, the first alert, the ack and the resolution.
	g := r.Graphs[0]
	if g.Expr != "node_network_up" || g.Threshold == nil || *g.Threshold != 0 {
		t.Errorf("graph 0 plots %q threshold %v, want node_network_up threshold 0", g.Expr, g.Threshold)
	}
	kinds := map[string]bool{}
	for _, mk := range g.Marks {
		kinds[mk.Kind] = true
	}
	for _, k := range []string{"onset", "alert", "ack", "mitigated", "resolved", "page", "remediation"} {
		if !kinds[k] {
			t.Errorf("graph has no %s mark: %+v", k, g.Marks)
		}
	}
	// Every Google SRE template section is in the Markdown.
	var md bytes.Buffer
	if err := Render(&md, r, "md"); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"# NodeNetworkDown on dl325-01", "**Status:**", "## Summary", "## Impact", "## Root-cause candidates",
		"## Trigger", "## Detection", "## Response", "## Recovery", "## Timeline", "## Action items", "## Lessons learned"} {
		if !strings.Contains(md.String(), h) {
			t.Errorf("markdown lacks %q", h)
		}
	}
}

func TestTimelineMergesAndCollapses(t *testing.T) {
	src := scripted(t)
	tl, err := BuildTimeline(context.Background(), src, Selection{IncidentID: incID})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(tl.Entries); i++ {
		if tl.Entries[i].Time.Before(tl.Entries[i-1].Time) {
			t.Fatalf("entry %d (%s) before entry %d (%s)", i, tl.Entries[i].Time, i-1, tl.Entries[i-1].Time)
		}
	}
	find := func(pred func(Entry) bool) []Entry {
		var out []Entry
		for _, e := range tl.Entries {
			if pred(e) {
				out = append(out, e)
			}
		}
		return out
	}
	cases := []struct {
		name  string
		pred  func(Entry) bool
		count int
		check func(t *testing.T, e Entry)
	}{
		{"flapping alert is one line with its count", func(e Entry) bool { return e.Labels["alertname"] == "NodeNetworkFlapping" }, 1,
			func(t *testing.T, e Entry) {
				if e.Collapsed != CollapsedFlapping || e.Count != 4 || e.Time != at("17:26:15") || e.Until != at("17:36:45") {
					t.Errorf("flapping line = %+v, want 4 firings 17:26:15–17:36:45", e)
				}
			}},
		{"six identical traps are one burst", func(e Entry) bool { return e.Source == "snmp_trap" && deviceOf(e.Labels) == "sw-r12" }, 1,
			func(t *testing.T, e Entry) {
				if e.Count != 6 || e.Collapsed != CollapsedBurst || e.Category != CatTrap {
					t.Errorf("burst = %+v, want 6 collapsed traps", e)
				}
			}},
		{"another rack's trap is left out", func(e Entry) bool { return deviceOf(e.Labels) == "sw-r40" }, 0, nil},
		{"every IML entry of the window is there", func(e Entry) bool { return e.Source == "redfish_log" }, 10,
			func(t *testing.T, e Entry) {
				if e.Category != CatHardwareLog || e.Kind != "Hpe-IML" {
					t.Errorf("IML entry = %+v", e)
				}
			}},
		{"ALERTS pending from the TSDB", func(e Entry) bool { return e.Kind == KindALERTSPending }, 1,
			func(t *testing.T, e Entry) {
				if e.Time != onset || e.Source != SourceALERTS {
					t.Errorf("pending = %+v, want at the onset from ALERTS", e)
				}
			}},
		{"acknowledgement with its actor", func(e Entry) bool { return e.Kind == store.EventAcknowledged }, 1,
			func(t *testing.T, e Entry) {
				if e.Actor != "user:alice" {
					t.Errorf("ack actor = %q", e.Actor)
				}
			}},
		{"remediation guard decision", func(e Entry) bool { return e.Kind == store.EventRemediationSkipped }, 1,
			func(t *testing.T, e Entry) {
				if !strings.Contains(e.Summary, "cooldown") || e.Source != SourceRemediation {
					t.Errorf("skip = %+v", e)
				}
			}},
		{"page failure and success", func(e Entry) bool { return e.Category == CatPage }, 5, nil},
		{"config reload before the incident", func(e Entry) bool { return e.Kind == store.EventConfigReload }, 1, nil},
		{"deploy to the rack", func(e Entry) bool { return e.Kind == "deploy" }, 1, nil},
		{"lifecycle change after", func(e Entry) bool { return e.Category == CatLifecycle }, 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := find(c.pred)
			if len(got) != c.count {
				t.Fatalf("%d entries, want %d: %+v", len(got), c.count, got)
			}
			for _, e := range got {
				if c.check != nil {
					c.check(t, e)
				}
			}
		})
	}
	if tl.RawEntries <= len(tl.Entries) {
		t.Errorf("raw %d entries, %d shown: nothing collapsed", tl.RawEntries, len(tl.Entries))
	}
	raw, err := BuildTimelineWith(context.Background(), src, Selection{IncidentID: incID}, Collapse{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Entries) != tl.RawEntries {
		t.Errorf("raw timeline has %d entries, want %d", len(raw.Entries), tl.RawEntries)
	}
}

func TestRangeSelection(t *testing.T) {
	src := scripted(t)
	ms, err := ParseSelector(`{rack="r12"}`)
	if err != nil {
		t.Fatal(err)
	}
	tl, err := BuildTimeline(context.Background(), src, Selection{From: at("17:00:00"), To: at("18:00:00"), Matchers: ms})
	if err != nil {
		t.Fatal(err)
	}
	var r12, r40, alerts int
	for _, e := range tl.Entries {
		switch e.Labels["rack"] {
		case "r12":
			r12++
		case "r40":
			r40++
		}
		if e.Source == SourceALERTS {
			alerts++
		}
		if e.Time.Before(at("17:00:00")) || !e.Time.Before(at("18:00:00")) {
			t.Errorf("entry outside the range: %+v", e)
		}
	}
	if r12 == 0 || r40 != 0 || alerts == 0 {
		t.Errorf("rack r12: %d entries, r40: %d, ALERTS: %d; want r12 and ALERTS entries only", r12, r40, alerts)
	}
	rep, err := TimelineReport(context.Background(), src, Selection{From: at("17:00:00"), To: at("18:00:00"), Matchers: ms}, Collapse{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, rep, "md"); err != nil {
		t.Fatal(err)
	}
	golden(t, "range-r12.md", buf.Bytes())

	for _, bad := range []Selection{{}, {From: at("18:00:00"), To: at("17:00:00")}, {From: at("17:00:00")}} {
		if _, err := BuildTimeline(context.Background(), src, bad); err == nil {
			t.Errorf("selection %+v: no error", bad)
		}
	}
}

func TestJSONReportRoundTrips(t *testing.T) {
	src := scripted(t)
	r, err := BuildReport(context.Background(), src, incID, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, r, "json"); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Metrics.TimeToDetect.Seconds != 120 || len(back.Timeline.Entries) != len(r.Timeline.Entries) || back.Incident.ID != incID {
		t.Errorf("JSON lost facts: ttd %v, %d entries, incident %v", back.Metrics.TimeToDetect.Seconds, len(back.Timeline.Entries), back.Incident)
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	err := Render(&bytes.Buffer{}, Report{}, "pdf")
	if err == nil || !strings.Contains(err.Error(), `"pdf"`) {
		t.Errorf("Render(pdf) = %v, want an error naming the format", err)
	}
}

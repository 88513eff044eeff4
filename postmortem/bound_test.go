package postmortem

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
)

// loadBigIncident stores an incident with n timeline events: 300 servers
// whose alerts flap, traps from 40 switches, IML entries, pages, notes, an
// acknowledgement in the middle and the resolution at the end.
func loadBigIncident(t testing.TB, st store.Store, id string, n int) {
	t.Helper()
	ctx := context.Background()
	t0 := at("02:00:00")
	var evs []store.TimelineEvent
	add := func(e store.TimelineEvent) {
		e.IncidentID = id
		evs = append(evs, e)
	}
	add(store.TimelineEvent{Time: t0, Kind: store.EventIncidentCreated, Actor: "fleetwatch", Summary: "incident opened: power feed B lost in dc2"})
	for i := 1; len(evs) < n-1; i++ {
		ts := t0.Add(time.Duration(i) * time.Second)
		srv := fmt.Sprintf("srv-%03d", i%300)
		ls := map[string]string{"alertname": "NodeDown", "server": srv, "rack": fmt.Sprintf("r%02d", i%300/20), "site": "dc2", "severity": "critical"}
		switch i % 10 {
		case 0, 1, 2:
			add(store.TimelineEvent{Time: ts, Kind: store.EventIncidentGrouped, Actor: "fleetwatch", Summary: "alert NodeDown firing", Labels: ls})
		case 3, 4:
			add(store.TimelineEvent{Time: ts, Kind: store.EventAlertResolved, Actor: "fleetwatch", Summary: "alert NodeDown resolved", Labels: ls})
		case 5, 6:
			sw := fmt.Sprintf("sw-%02d", i%40)
			add(externalEvent(id, events.Event{Time: ts, Source: events.SourceSNMPTrap, Kind: "linkDown", Severity: events.Warning,
				Summary: "linkDown " + sw + " Et" + fmt.Sprint(i%48), Labels: map[string]string{"switch": sw, "site": "dc2"}}))
		case 7:
			add(externalEvent(id, events.Event{Time: ts, Source: events.SourceRedfishLog, Kind: "Hpe-IML", Severity: events.Critical,
				Summary: "Power supply 2 lost AC input", Labels: map[string]string{"server": srv, "site": "dc2"}}))
		case 8:
			add(store.TimelineEvent{Time: ts, Kind: store.EventNotificationFailed, Actor: "fleetwatch",
				Summary: fmt.Sprintf("change to pagerduty failed (attempt %d): 429", i)})
		case 9:
			add(store.TimelineEvent{Time: ts, Kind: store.EventNote, Actor: "user:carol", Summary: fmt.Sprintf("status update %d", i)})
		}
		if len(evs) == n/2 {
			add(store.TimelineEvent{Time: ts, Kind: store.EventAcknowledged, Actor: "user:carol", Summary: "acknowledged by carol"})
		}
	}
	last := evs[len(evs)-1].Time.Add(time.Second)
	add(store.TimelineEvent{Time: last, Kind: store.EventResolved, Actor: "fleetwatch", Summary: "all alerts resolved"})
	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIncident(ctx, store.Incident{ID: id, GroupKey: id, Route: "/dc2", Receiver: "pagerduty", Title: "Power feed B lost in dc2",
			Severity: "critical", State: store.Resolved, CreatedAt: t0, UpdatedAt: last, ResolvedAt: last}); err != nil {
			return err
		}
		for _, e := range evs {
			if _, err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTenThousandEventsBounded: a report of an incident with 10,000
// timeline events renders, collapsed, in a bounded size, and still shows
// the acknowledgement and the resolution.
func TestTenThousandEventsBounded(t *testing.T) {
	st := openStore(t)
	loadBigIncident(t, st, "inc-big", 10000)
	src := Sources{Store: st, Now: func() time.Time { return testNow }}
	r, err := BuildReport(context.Background(), src, "inc-big", ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Timeline.RawEntries != 10000 {
		t.Fatalf("read %d entries, want 10000", r.Timeline.RawEntries)
	}
	if n := len(r.Timeline.Entries); n > 300 {
		t.Errorf("%d timeline lines, want at most 300", n)
	}
	var acks, resolved, omitted, counted int
	for _, e := range r.Timeline.Entries {
		switch {
		case e.Kind == store.EventAcknowledged:
			acks++
		case e.Kind == store.EventResolved:
			resolved++
		case e.Collapsed == CollapsedOmitted:
			omitted++
		}
		counted += max(e.Count, 1)
	}
	if acks != 1 || resolved != 1 || omitted == 0 {
		t.Errorf("acks %d, resolutions %d, omitted lines %d; want 1, 1 and some", acks, resolved, omitted)
	}
	// Collapsed lines account for what they stand for.
	if counted < 10000-len(r.Timeline.Entries) {
		t.Errorf("lines stand for %d entries, want about 10000", counted)
	}
	limits := map[string]int{FormatMarkdown: 256 << 10, FormatHTML: 384 << 10, FormatJSON: 512 << 10}
	for f, limit := range limits {
		t.Run(f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, r, f); err != nil {
				t.Fatal(err)
			}
			if buf.Len() > limit {
				t.Errorf("%s report is %d bytes, want at most %d", f, buf.Len(), limit)
			}
			if !strings.Contains(buf.String(), "acknowledged by carol") {
				t.Errorf("%s report lost the acknowledgement", f)
			}
			if f == FormatJSON && !json.Valid(buf.Bytes()) {
				t.Error("JSON report does not parse")
			}
		})
	}
	// The raw timeline keeps everything.
	raw, err := BuildTimelineWith(context.Background(), src, Selection{IncidentID: "inc-big"}, Collapse{Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(raw.Entries) != 10000 {
		t.Errorf("raw timeline has %d entries, want 10000", len(raw.Entries))
	}
}

func TestCollapseRules(t *testing.T) {
	ls := func(srv string) map[string]string { return map[string]string{"alertname": "X", "server": srv} }
	e := func(sec int, kind string, l map[string]string, summary string) Entry {
		cat := CatAlert
		if kind == "linkDown" {
			cat = CatTrap
		}
		return Entry{Time: at("10:00:00").Add(time.Duration(sec) * time.Second), Kind: kind, Labels: l, Summary: summary, Count: 1,
			Source: "s", Category: cat}
	}
	cases := []struct {
		name  string
		in    []Entry
		c     Collapse
		lines int
		first Entry
	}{
		{"two firings are not flapping", []Entry{e(0, store.EventAlertFiring, ls("a"), "f"), e(60, store.EventAlertResolved, ls("a"), "r"),
			e(120, store.EventIncidentGrouped, ls("a"), "f")}, Collapse{}, 3, Entry{}},
		{"three firings flap", []Entry{e(0, store.EventAlertFiring, ls("a"), "f"), e(60, store.EventAlertResolved, ls("a"), "r"),
			e(120, store.EventIncidentGrouped, ls("a"), "f"), e(180, store.EventAlertResolved, ls("a"), "r"), e(240, store.EventIncidentGrouped, ls("a"), "f")},
			Collapse{}, 1, Entry{Count: 3, Collapsed: CollapsedFlapping}},
		{"other servers do not count", []Entry{e(0, store.EventAlertFiring, ls("a"), "f"), e(60, store.EventIncidentGrouped, ls("b"), "f"),
			e(120, store.EventIncidentGrouped, ls("c"), "f")}, Collapse{}, 3, Entry{}},
		{"identical traps within the gap burst", []Entry{e(0, "linkDown", ls("sw"), "down"), e(30, "linkDown", ls("sw"), "down"), e(59, "linkDown", ls("sw"), "down")},
			Collapse{}, 1, Entry{Count: 3, Collapsed: CollapsedBurst}},
		{"a pause splits bursts", []Entry{e(0, "linkDown", ls("sw"), "down"), e(30, "linkDown", ls("sw"), "down"), e(200, "linkDown", ls("sw"), "down")},
			Collapse{}, 2, Entry{Count: 2, Collapsed: CollapsedBurst}},
		{"different summaries stay apart", []Entry{e(0, "linkDown", ls("sw"), "Et1"), e(1, "linkDown", ls("sw"), "Et2")}, Collapse{}, 2, Entry{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := collapse(c.in, c.c.withDefaults())
			if len(got) != c.lines {
				t.Fatalf("%d lines, want %d: %+v", len(got), c.lines, got)
			}
			if c.first.Collapsed != "" && (got[0].Collapsed != c.first.Collapsed || got[0].Count != c.first.Count) {
				t.Errorf("first line %+v, want collapsed %s ×%d", got[0], c.first.Collapsed, c.first.Count)
			}
		})
	}
}

func TestBoundKeepsLimit(t *testing.T) {
	for _, n := range []int{11, 50, 301, 5000} {
		for _, limit := range []int{10, 50, 300} {
			t.Run(fmt.Sprintf("%d entries limit %d", n, limit), func(t *testing.T) {
				in := make([]Entry, n)
				for i := range in {
					in[i] = Entry{Time: at("10:00:00").Add(time.Duration(i) * time.Second), Kind: store.EventNote, Category: CatIncident, Count: 1}
					if i%7 == 0 {
						in[i].Kind = store.EventAcknowledged
					}
				}
				out := bound(in, limit)
				if n > limit && len(out) > limit {
					t.Errorf("%d lines, want at most %d", len(out), limit)
				}
				total := 0
				for _, e := range out {
					total += e.Count
				}
				if total != n {
					t.Errorf("lines stand for %d entries, want %d", total, n)
				}
			})
		}
	}
}

package postmortem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
)

// fillHistory stores incidents × perIncident timeline events over 30 days
// in an SQLite store, as the alerter writes them: alert firings and
// resolutions, traps, pages and notes, one incident after another. It
// returns the ID of the incident in the middle.
func fillHistory(b *testing.B, st *sqlstore.Store, incidents, perIncident int) string {
	b.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gap := 30 * 24 * time.Hour / time.Duration(incidents)
	const batch = 100 // incidents per transaction
	for first := 0; first < incidents; first += batch {
		err := st.Update(ctx, func(tx store.Tx) error {
			for i := first; i < first+batch && i < incidents; i++ {
				id := fmt.Sprintf("inc-%06d", i)
				start := t0.Add(time.Duration(i) * gap)
				srv := fmt.Sprintf("srv-%05d", i%20000)
				ls := map[string]string{"alertname": "NodeDown", "server": srv, "rack": fmt.Sprintf("r%03d", i%500), "site": fmt.Sprintf("dc%d", i%4), "severity": "critical"}
				if err := tx.CreateIncident(ctx, store.Incident{ID: id, GroupKey: id, Route: "/", Receiver: "pagerduty", Title: "NodeDown " + srv,
					Severity: "critical", State: store.Resolved, Labels: ls, CreatedAt: start, UpdatedAt: start, ResolvedAt: start.Add(gap / 2)}); err != nil {
					return err
				}
				for j := 0; j < perIncident; j++ {
					e := store.TimelineEvent{IncidentID: id, Time: start.Add(time.Duration(j) * gap / 2 / time.Duration(perIncident)), Actor: "fleetwatch", Labels: ls}
					switch j % 5 {
					case 0:
						e.Kind, e.Summary = store.EventAlertFiring, "alert NodeDown firing"
					case 1:
						e.Kind, e.Summary = store.EventAlertResolved, "alert NodeDown resolved"
					case 2:
						e.Kind, e.Summary = store.EventExternal, "linkDown sw Et1"
						e.Data = []byte(`{"source":"snmp_trap","kind":"linkDown","severity":"warning"}`)
					case 3:
						e.Kind, e.Summary, e.Labels = store.EventNotificationSent, "trigger sent to pagerduty (attempt 1)", nil
						e.Data = []byte(`{"action":"trigger","receiver":"pagerduty","attempt":1}`)
					case 4:
						e.Kind, e.Summary, e.Actor, e.Labels = store.EventNote, "looking", "user:alice", nil
					}
					if j == perIncident-1 {
						e.Kind, e.Summary, e.Labels = store.EventResolved, "all alerts resolved", nil
					}
					if _, err := tx.AddEvent(ctx, e); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return fmt.Sprintf("inc-%06d", incidents/2)
}

// BenchmarkTimelineOneIncidentOf1MEvents builds one incident's timeline out
// of a store holding 1,000,000 timeline events (10,000 incidents of 100
// events). Goal: under 1 s.
func BenchmarkTimelineOneIncidentOf1MEvents(b *testing.B) {
	st := openStore(b)
	start := time.Now()
	id := fillHistory(b, st, 10000, 100)
	b.Logf("stored 1,000,000 events in %v", time.Since(start).Round(time.Second))
	src := Sources{Store: st, Now: func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		tl, err := BuildTimeline(ctx, src, Selection{IncidentID: id})
		if err != nil {
			b.Fatal(err)
		}
		if tl.RawEntries < 100 {
			b.Fatalf("%d entries, want 100", tl.RawEntries)
		}
	}
}

// BenchmarkReportRenderWithGraphs builds the scripted incident's report
// (timeline, metrics with time to detect from the TSDB, two graphs) and
// renders it as HTML. Goal: under 2 s.
func BenchmarkReportRenderWithGraphs(b *testing.B) {
	src := scripted(b)
	ctx := context.Background()
	for b.Loop() {
		r, err := BuildReport(ctx, src, incID, ReportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if len(r.Graphs) != 2 {
			b.Fatalf("%d graphs", len(r.Graphs))
		}
		if err := Render(io.Discard, r, FormatHTML); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReport10kEvents builds and renders (HTML) the report of an
// incident with 10,000 timeline events.
func BenchmarkReport10kEvents(b *testing.B) {
	st := openStore(b)
	loadBigIncident(b, st, "inc-big", 10000)
	src := Sources{Store: st, Now: func() time.Time { return testNow }}
	ctx := context.Background()
	var size int
	for b.Loop() {
		r, err := BuildReport(ctx, src, "inc-big", ReportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := Render(&buf, r, FormatHTML); err != nil {
			b.Fatal(err)
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "html-bytes")
}

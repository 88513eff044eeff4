package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// seedMany adds n open incidents with one alert each.
func seedMany(b *testing.B, st store.Store, n int) {
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			id := fmt.Sprintf("inc-bench-%05d", i)
			if err := tx.CreateIncident(ctx, store.Incident{ID: id, GroupKey: id, Route: "root/dc1", Receiver: "pd", Title: "NodeDown: srv-" + id,
				Severity: severityOrder[i%4], State: store.Triggered, Labels: map[string]string{"site": fmt.Sprintf("dc%d", i%3), "rack": fmt.Sprintf("r%02d", i%40)},
				AlertCount: 1, FiringCount: 1, CreatedAt: at(-i % 600), UpdatedAt: at(0)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/page")
}

// BenchmarkIncidentsList renders the list of 200 open incidents (the
// default limit) out of 5,000 stored.
func BenchmarkIncidentsList(b *testing.B) {
	f := newFixture(b, nil)
	seedMany(b, f.st, 5000)
	benchGet(b, f.ui.Handler(), "/incidents")
}

// BenchmarkIncidentPage renders an incident with 10,000 timeline events and
// two graphs (fake querier: the cost of the page, not of PromQL).
func BenchmarkIncidentPage(b *testing.B) {
	f := newFixture(b, nil)
	ctx := context.Background()
	err := f.st.Update(ctx, func(tx store.Tx) error {
		for i := range 10000 {
			e := store.TimelineEvent{IncidentID: "inc-dc1-node", Time: at(-40).Add(time.Duration(i) * 200 * time.Millisecond), Actor: "fleetwatch",
				Kind: store.EventExternal, Summary: fmt.Sprintf("linkDown port %d", i%500)}
			if _, err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	benchGet(b, f.ui.Handler(), "/incidents/inc-dc1-node")
}

// BenchmarkFleetPage renders 10,000 servers in 3 sites and 250 racks.
func BenchmarkFleetPage(b *testing.B) {
	f := newFixture(b, nil)
	inv := testInventory()
	inv.Servers = inv.Servers[:0]
	for i := range 10000 {
		inv.Servers = append(inv.Servers, invServer(i))
	}
	f.ui.o.Inventory = func() *inventoryT { return inv }
	benchGet(b, f.ui.Handler(), "/fleet")
}

func BenchmarkRenderSVG(b *testing.B) {
	var ss []Series
	for s := range maxSeriesPerGraph {
		ser := Series{Labels: map[string]string{"__name__": "up", "instance": fmt.Sprint(s)}}
		for i := range maxPointsPerGraphRow {
			ser.Points = append(ser.Points, Point{T: at(-60).Add(time.Duration(i) * 9 * time.Second), V: float64((i * s) % 17)})
		}
		ss = append(ss, ser)
	}
	b.ReportAllocs()
	for b.Loop() {
		svg, _ := renderSVG(ss, at(-60), at(0), 9*time.Second, []mark{{T: at(-43), Label: "created"}})
		_, _ = io.Discard.Write([]byte(svg))
	}
}

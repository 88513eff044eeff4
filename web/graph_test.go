package web

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/pipeline"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
)

func TestRenderSVG(t *testing.T) {
	start, end := at(-60), at(0)
	s := Series{Labels: map[string]string{"__name__": "node_load1", "instance": `<script>alert("x")</script>`}}
	for i := 0; i <= 60; i++ {
		v := float64(i % 7)
		if i >= 20 && i < 25 {
			v = math.NaN() // a gap: the line breaks
		}
		s.Points = append(s.Points, Point{T: start.Add(time.Duration(i) * time.Minute), V: v})
	}
	flat := Series{Labels: map[string]string{"__name__": "node_load1", "instance": "b"}, Points: []Point{{T: at(-30), V: 2}}}
	svg, legend := renderSVG([]Series{s, flat}, start, end, time.Minute,
		[]mark{{T: at(-43), Label: "created", Class: "created"}, {T: at(-200), Label: "outside", Class: "event"}})
	out := string(svg)
	if strings.Contains(out, "<script>") || !strings.Contains(out, "&lt;script&gt;") {
		t.Error("label values must be escaped inside the SVG")
	}
	if n := strings.Count(out, "<polyline"); n != 2 {
		t.Errorf("%d polylines, want 2 (the NaN gap splits the first series)", n)
	}
	if n := strings.Count(out, "<circle"); n != 1 {
		t.Errorf("%d circles, want 1 (a series with one point)", n)
	}
	if strings.Contains(out, "outside") || !strings.Contains(out, `class="mark created"`) {
		t.Error("marks outside the window must be left out, inside drawn")
	}
	if len(legend) != 2 || legend[0].Class != "s0" || legend[1].Last != "2" {
		t.Errorf("legend = %+v", legend)
	}
	// It must be well-formed XML (inline SVG in HTML forgives, browsers
	// viewing the figure alone do not).
	d := xml.NewDecoder(strings.NewReader(out))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("SVG is not well-formed: %v\n%s", err, out)
		}
	}
	checkGolden(t, "graph.svg", out+"\n")
}

func TestGraphSeriesLimit(t *testing.T) {
	var in []Series
	for i := range 25 {
		in = append(in, Series{Labels: map[string]string{"i": fmt.Sprint(i)}, Points: []Point{{V: float64(i)}}})
	}
	out, omitted := graphSeries(in)
	if len(out) != maxSeriesPerGraph || omitted != 15 || out[0].Labels["i"] != "24" {
		t.Errorf("kept %d (first %v), omitted %d; want the 10 highest, 15 omitted", len(out), out[0].Labels, omitted)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 1, "[0 0.2 0.4 0.6 0.8 1]"},
		{0, 100, "[0 20 40 60 80 100]"},
		{-3, 7, "[-4 -2 0 2 4 6 8]"},
		{1e9, 1e9 + 5e8, "[1e+09 1.1e+09 1.2e+09 1.3e+09 1.4e+09 1.5e+09]"},
	} {
		if got := fmt.Sprint(niceTicks(tc.lo, tc.hi, 4)); got != tc.want {
			t.Errorf("niceTicks(%v, %v) = %s, want %s", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestAlertExprs(t *testing.T) {
	gen := func(expr string) string { return "http://x/graph?g0.expr=" + url.QueryEscape(expr) + "&g0.tab=1" }
	alerts := []store.Alert{
		{GeneratorURL: gen(`rate(x[5m]) > 1`), Labels: map[string]string{"alertname": "A"}},
		{GeneratorURL: gen(`rate(x[5m]) > 1`), Labels: map[string]string{"alertname": "A"}},
		{GeneratorURL: "::bad url", Labels: map[string]string{"alertname": "B"}},
		{Labels: map[string]string{}},
	}
	got := alertExprs(alerts)
	want := []string{`rate(x[5m]) > 1`, `ALERTS{alertname="B"}`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("alertExprs = %q, want %q", got, want)
	}
}

// TestGraphsFromTSDB draws the incident's graph with the real PromQL
// engine over the embedded TSDB: srv-a1's up drops to 0 at the alert.
func TestGraphsFromTSDB(t *testing.T) {
	db, err := pipeline.OpenStore(pipeline.StoreOptions{Path: t.TempDir()}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	app := db.AppenderV2(context.Background())
	for ts := at(-120); !ts.After(testNow); ts = ts.Add(15 * time.Second) {
		for _, inst := range []string{"srv-a1", "srv-a2"} {
			v := 1.0
			if inst == "srv-a1" && !ts.Before(at(-45)) {
				v = 0
			}
			if _, err := app.Append(0, labels.FromStrings("__name__", "up", "job", "node", "instance", inst), 0, ts.UnixMilli(), v, nil, nil, storage.AppendV2Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	engine := promapi.NewEngine(promapi.EngineOptions{}, nil, nil)
	q := EngineQuerier(engine, db)
	f := newFixture(t, func(o *Options) { o.Querier = q })
	_, body, _ := get(t, f.client(t), f.srv.URL+"/incidents/inc-dc1-node")
	graphs := body[strings.Index(body, `<section class="graphs">`):]
	graphs = graphs[:strings.Index(graphs, "</section>")]
	// up{job="node"} == 0 keeps srv-a1 from its drop on: one series.
	if !strings.Contains(graphs, `up{instance=&#34;srv-a1&#34;, job=&#34;node&#34;}`) || strings.Contains(graphs, "srv-a2") {
		t.Errorf("graph of up == 0 should show srv-a1 only:\n%s", graphs)
	}
	if !strings.Contains(graphs, "<polyline") {
		t.Error("no line drawn")
	}
	// The ALERTS series is not stored here: that graph says so.
	if !strings.Contains(graphs, "No data in this window.") {
		t.Error("an expression without data must say so")
	}

	// The fleet page reads up through the same engine.
	_, fleet, _ := get(t, f.client(t), f.srv.URL+"/fleet")
	if devClass(fleet, "srv-a1") != "dev down server" || devClass(fleet, "srv-a2") != "dev ok server" {
		t.Errorf("fleet health from the engine's up: srv-a1 %q, srv-a2 %q", devClass(fleet, "srv-a1"), devClass(fleet, "srv-a2"))
	}
	// Instant and range results convert.
	vs, err := q.Query(context.Background(), `sum(up)`, testNow)
	if err != nil || len(vs) != 1 || vs[0].Points[0].V != 1 {
		t.Errorf("sum(up) = %+v, %v", vs, err)
	}
	if _, err := q.Query(context.Background(), `up{`, testNow); err == nil || !strings.Contains(err.Error(), `query "up{"`) {
		t.Errorf("a bad query must name the expression: %v", err)
	}
}

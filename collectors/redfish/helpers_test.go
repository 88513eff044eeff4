package redfish

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/simulate/bmc"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// fakeApp records what a collection appends.
type fakeApp struct {
	samples map[string]float64
	meta    map[string]metadata.Metadata
}

func newFakeApp() *fakeApp {
	return &fakeApp{samples: map[string]float64{}, meta: map[string]metadata.Metadata{}}
}

func (a *fakeApp) Append(ls labels.Labels, _ int64, v float64) error {
	k := ls.String()
	if _, dup := a.samples[k]; dup {
		return fmt.Errorf("duplicate series %s", k)
	}
	a.samples[k] = v
	return nil
}

func (a *fakeApp) SetMetadata(f string, md metadata.Metadata) { a.meta[f] = md }

// text renders the samples sorted, one per line.
func (a *fakeApp) text() string {
	lines := make([]string, 0, len(a.samples))
	for k, v := range a.samples {
		lines = append(lines, fmt.Sprintf("%s %g", k, v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// get returns the value of the series written as a labels string, e.g.
// `{__name__="redfish_fan_rpm", chassis="1U", fan="Fan 1"}`.
func (a *fakeApp) get(t *testing.T, series string) float64 {
	t.Helper()
	v, ok := a.samples[series]
	if !ok {
		t.Fatalf("series %s not collected; have:\n%s", series, a.text())
	}
	return v
}

// find returns the samples of a family whose labels include all of kv.
func (a *fakeApp) find(name string, kv ...string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a.samples {
		if !strings.HasPrefix(k, `{__name__="`+name+`"`) {
			continue
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && strings.Contains(k, kv[i]+`="`+kv[i+1]+`"`)
		}
		if ok {
			out[k] = v
		}
	}
	return out
}

// eventLog is a Sink that keeps events.
type eventLog struct {
	mu  sync.Mutex
	evs []events.Event
}

func (l *eventLog) HandleEvent(_ context.Context, e events.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	return nil
}

func (l *eventLog) all() []events.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.Event(nil), l.evs...)
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the collection (run with -update to accept):\n%s", path, diff(string(want), got))
	}
}

func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	ws, gs := map[string]bool{}, map[string]bool{}
	for _, l := range w {
		ws[l] = true
	}
	for _, l := range g {
		gs[l] = true
	}
	var out []string
	for _, l := range w {
		if !gs[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range g {
		if !ws[l] {
			out = append(out, "+ "+l)
		}
	}
	if len(out) > 40 {
		out = append(out[:40], fmt.Sprintf("… %d more", len(out)-40))
	}
	return strings.Join(out, "\n")
}

// serveMockup serves a mockup unchanged (no drift, the mockup's serials)
// the way the shared test data's README maps URLs to files.
func serveMockup(t *testing.T, name string, opts bmc.HandlerOptions) (*bmc.BMC, string) {
	t.Helper()
	m, err := bmc.LoadMockup(name)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Index == 0 {
		opts.Index = -1
	}
	b := bmc.NewBMC(m, opts)
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	return b, srv.URL
}

// testConfig is DefaultConfig over plain http with the whole log history.
func testConfig() Config {
	c := DefaultConfig()
	c.Scheme = "http"
	c.LogServices.History = 0
	c.LogServices.Interval = 0
	c.Retries = -1
	return c
}

func newTestCollector(t *testing.T, cfg Config, sink events.Sink) *Collector {
	t.Helper()
	c, err := New(cfg, sink, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return testNow }
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func target(addr string) collectors.Target {
	return collectors.Target{Job: "redfish", Address: addr, Labels: labels.FromStrings("job", "redfish", "instance", addr, "server", "srv-1", "rack", "r12")}
}

func goldenText(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// testNow is the collector's clock in tests.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func modelDuration(d time.Duration) model.Duration { return model.Duration(d) }

func errNotFound() error { return client.ErrNotFound }

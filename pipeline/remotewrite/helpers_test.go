package remotewrite

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/pipeline"
)

// receiver is a remote-write endpoint that decodes and keeps every sample,
// and answers with status when status is set.
type receiver struct {
	srv      *httptest.Server
	status   atomic.Int32
	requests atomic.Int64

	mu       sync.Mutex
	samples  map[string][]prompb.Sample // by series
	metadata map[string]prompb.MetricMetadata
	headers  http.Header
	errs     []string
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{samples: map[string][]prompb.Sample{}, metadata: map[string]prompb.MetricMetadata{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.handle))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) url() string { return r.srv.URL + "/api/v1/write" }

func (r *receiver) handle(w http.ResponseWriter, req *http.Request) {
	r.requests.Add(1)
	if s := r.status.Load(); s != 0 {
		http.Error(w, "receiver unavailable", int(s))
		return
	}
	body, _ := io.ReadAll(req.Body)
	var wr prompb.WriteRequest
	pb, err := snappy.Decode(nil, body)
	if err == nil {
		err = wr.Unmarshal(pb)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = req.Header.Clone()
	if err != nil {
		r.errs = append(r.errs, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, ts := range wr.Timeseries {
		key := seriesKey(ts.Labels)
		r.samples[key] = append(r.samples[key], ts.Samples...)
	}
	for _, md := range wr.Metadata {
		r.metadata[md.MetricFamilyName] = md
	}
	w.WriteHeader(http.StatusNoContent)
}

func seriesKey(ls []prompb.Label) string {
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = l.Name + "=" + l.Value
	}
	return strings.Join(parts, ",")
}

// count is the number of samples received.
func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.samples {
		n += len(s)
	}
	return n
}

// check compares what arrived with want (series key → timestamps in
// order): every sample once, each series in order.
func (r *receiver) check(t testing.TB, want map[string][]int64) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Errorf("receiver could not decode %d requests: %s", len(r.errs), r.errs[0])
	}
	if len(r.samples) != len(want) {
		t.Errorf("receiver has %d series, want %d", len(r.samples), len(want))
	}
	bad := 0
	for key, ts := range want {
		got := r.samples[key]
		if len(got) != len(ts) {
			if bad++; bad <= 3 {
				t.Errorf("series %s: %d samples arrived, want %d", key, len(got), len(ts))
			}
			continue
		}
		for i := range ts {
			if got[i].Timestamp != ts[i] {
				if bad++; bad <= 3 {
					t.Errorf("series %s: sample %d has timestamp %d, want %d", key, i, got[i].Timestamp, ts[i])
				}
				break
			}
		}
	}
	if bad > 3 {
		t.Errorf("... %d series wrong in all", bad)
	}
}

// fleet writes samples into a store and remembers what it wrote.
type fleet struct {
	series []labels.Labels
	want   map[string][]int64
}

func newFleet(n int, extra ...string) *fleet {
	f := &fleet{want: map[string][]int64{}}
	for i := range n {
		kv := append([]string{"__name__", "fleet_temp_celsius", "instance", fmt.Sprintf("srv-%05d", i), "job", "bmc"}, extra...)
		f.series = append(f.series, labels.FromStrings(kv...))
	}
	return f
}

// append writes one sample per series at ts (ms), value = ts + series.
func (f *fleet) append(t testing.TB, app storage.AppendableV2, ts int64) {
	t.Helper()
	a := app.AppenderV2(context.Background())
	for i, ls := range f.series {
		if _, err := a.Append(0, ls, 0, ts, float64(ts+int64(i)), nil, nil, storage.AOptions{}); err != nil {
			t.Fatal(err)
		}
		key := ls.String()
		f.want[key] = append(f.want[key], ts)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
}

// wantKeys rewrites the expected series keys the way the receiver names
// them (sorted name=value pairs).
func (f *fleet) wantKeys() map[string][]int64 {
	out := map[string][]int64{}
	for _, ls := range f.series {
		var parts []string
		ls.Range(func(l labels.Label) { parts = append(parts, l.Name+"="+l.Value) })
		sort.Strings(parts)
		out[strings.Join(parts, ",")] = f.want[ls.String()]
	}
	return out
}

func (f *fleet) total() int {
	n := 0
	for _, ts := range f.want {
		n += len(ts)
	}
	return n
}

func openStore(t testing.TB, dir string) *pipeline.Store {
	t.Helper()
	s, err := pipeline.OpenStore(pipeline.StoreOptions{Path: dir}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// running is a Writer started in the background.
type running struct {
	w      *Writer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func startWriter(t testing.TB, dir string, logger *slog.Logger, cfgs ...Config) *running {
	t.Helper()
	return startWriterOpts(t, Options{Configs: cfgs, WALDir: filepath.Join(dir, "wal"), Logger: logger, FlushDeadline: 20 * time.Second})
}

func startWriterOpts(t testing.TB, o Options) *running {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	o.Registerer = reg
	w, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t testing.TB) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return within 60s of its context ending")
	}
}

// metric reads one of the writer's metrics for queue name.
func (r *running) metric(t testing.TB, name, queue string) float64 {
	t.Helper()
	mfs, err := r.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "remote_name" && lp.GetValue() == queue {
					switch {
					case m.Counter != nil:
						sum += m.GetCounter().GetValue()
					case m.Gauge != nil:
						sum += m.GetGauge().GetValue()
					}
				}
			}
		}
		return sum
	}
	return 0
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

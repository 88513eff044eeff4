package promapi

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// testBase is the time of the first sample in the test TSDB.
var testBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// testNow is the API's clock in tests: the time of the last sample.
var testNow = testBase.Add(10 * time.Minute)

// openDB opens an empty TSDB in a temporary directory, closed when the
// test ends.
func openDB(t testing.TB) *tsdb.DB {
	t.Helper()
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(t.TempDir(), nil, nil, opts, nil)
	if err != nil {
		t.Fatalf("open tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testSeries is the known data set of the golden tests: 41 samples, every
// 15 s from testBase to testNow.
//
//	up{instance="a:9100",job="node"}                      1
//	up{instance="b:9100",job="node"}                      0
//	node_cpu_seconds_total{cpu="0",mode="idle",…a:9100}   10*i  (rate 0.666…/s)
//	node_cpu_seconds_total{cpu="0",mode="user",…a:9100}   2*i   (rate 0.133…/s)
//	node_load1{instance="a:9100",job="node"}              i % 4
func fillTestDB(t testing.TB, db *tsdb.DB) {
	t.Helper()
	node := func(inst string, kv ...string) labels.Labels {
		return labels.FromStrings(append([]string{"instance", inst, "job", "node"}, kv...)...)
	}
	type series struct {
		lset labels.Labels
		md   metadata.Metadata
		f    func(i int) float64
	}
	gauge := metadata.Metadata{Type: model.MetricTypeGauge, Help: "Whether the target is up."}
	cpu := metadata.Metadata{Type: model.MetricTypeCounter, Help: "Seconds the CPUs spent in each mode."}
	load := metadata.Metadata{Type: model.MetricTypeGauge, Help: "1m load average."}
	all := []series{
		{node("a:9100", "__name__", "up"), gauge, func(int) float64 { return 1 }},
		{node("b:9100", "__name__", "up"), gauge, func(int) float64 { return 0 }},
		{node("a:9100", "__name__", "node_cpu_seconds_total", "cpu", "0", "mode", "idle"), cpu, func(i int) float64 { return 10 * float64(i) }},
		{node("a:9100", "__name__", "node_cpu_seconds_total", "cpu", "0", "mode", "user"), cpu, func(i int) float64 { return 2 * float64(i) }},
		{node("a:9100", "__name__", "node_load1"), load, func(i int) float64 { return float64(i % 4) }},
	}
	app := db.AppenderV2(context.Background())
	for i := 0; i <= 40; i++ {
		ts := testBase.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for _, s := range all {
			if _, err := app.Append(0, s.lset, 0, ts, s.f(i), nil, nil, storage.AppendV2Options{Metadata: s.md}); err != nil {
				t.Fatalf("append %s: %v", s.lset, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// fakeMetadata is a MetadataLister over a fixed map.
type fakeMetadata map[string][]metadata.Metadata

func (f fakeMetadata) Metadata(metric string, limit int) map[string][]metadata.Metadata {
	out := map[string][]metadata.Metadata{}
	for name, md := range f {
		if metric != "" && name != metric {
			continue
		}
		out[name] = md
	}
	return out
}

func testMetadata() fakeMetadata {
	return fakeMetadata{
		"up":                     {{Type: model.MetricTypeGauge, Help: "Whether the target is up."}},
		"node_cpu_seconds_total": {{Type: model.MetricTypeCounter, Help: "Seconds the CPUs spent in each mode."}},
		"node_load1":             {{Type: model.MetricTypeGauge, Help: "1m load average."}},
	}
}

// fakeTargets is a TargetLister over a fixed list.
type fakeTargets []ActiveTarget

func (f fakeTargets) ActiveTargets() []ActiveTarget { return f }

func testTargets() fakeTargets {
	return fakeTargets{{
		DiscoveredLabels:   labels.FromStrings("__address__", "a:9100", "__metrics_path__", "/metrics", "__scheme__", "http", "job", "node"),
		Labels:             labels.FromStrings("instance", "a:9100", "job", "node"),
		ScrapePool:         "node",
		ScrapeURL:          "http://a:9100/metrics",
		GlobalURL:          "http://a:9100/metrics",
		LastScrape:         testNow,
		LastScrapeDuration: 0.012,
		Health:             "up",
		ScrapeInterval:     "15s",
		ScrapeTimeout:      "10s",
	}}
}

type testAPI struct {
	srv *httptest.Server
	reg *prometheus.Registry
}

// newTestAPI serves the API over db with the test clock; eo sets the
// engine's limits.
func newTestAPI(t testing.TB, q storage.Queryable, eo EngineOptions) *testAPI {
	t.Helper()
	reg := prometheus.NewRegistry()
	api := New(Options{
		Queryable:  q,
		Engine:     NewEngine(eo, nil, reg),
		Targets:    testTargets(),
		Metadata:   testMetadata(),
		BuildInfo:  BuildInfo{Version: "0.1.0", Revision: "abc123", Branch: "main", BuildUser: "ci@fleetwatch", BuildDate: "20240101-00:00:00", GoVersion: "go1.26.8"},
		Registerer: reg,
		Now:        func() time.Time { return testNow },
	})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &testAPI{srv: srv, reg: reg}
}

// do sends a GET with form as the query string, or a form-encoded POST.
func do(t testing.TB, base, method, path string, form url.Values) (int, []byte) {
	t.Helper()
	var (
		req *http.Request
		err error
	)
	if method == http.MethodPost {
		req, err = http.NewRequest(method, base+path, strings.NewReader(form.Encode()))
		if err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		u := base + path
		if len(form) > 0 {
			u += "?" + form.Encode()
		}
		req, err = http.NewRequest(method, u, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// checkGolden compares body, indented, with testdata/golden/name.json.
func checkGolden(t *testing.T, name string, body []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, body, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, body)
	}
	path := filepath.Join("testdata", "golden", name+".json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\ngot:\n%s\nwant:\n%s", path, pretty.Bytes(), want)
	}
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func httpTestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// staleNaN is Prometheus' stale marker.
func staleNaN() float64 { return math.Float64frombits(value.StaleNaN) }

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }

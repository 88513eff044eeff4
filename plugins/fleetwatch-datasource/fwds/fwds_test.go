package fwds

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// plugin runs the datasource behind the SDK's gRPC server, with the SDK's
// client in front, as Grafana talks to it.
type plugin struct {
	client *datasourcetest.TestPluginClient
	reg    *prometheus.Registry
}

// The SDK's test server registers its own metrics on the default registry,
// so one server runs for the whole package (TestMain); each test uses
// datasources of its own (instances are per datasource UID).
var shared plugin

func TestMain(m *testing.M) {
	flag.Parse()
	reg := prometheus.NewRegistry()
	factory, err := NewFactory(Options{Registerer: reg, Now: func() time.Time { return at(30) }})
	if err != nil {
		panic(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	addr := l.Addr().String()
	l.Close()
	tp, err := datasourcetest.Manage(factory, datasourcetest.ManageOpts{Address: addr})
	if err != nil {
		panic(err)
	}
	shared = plugin{client: tp.Client, reg: reg}
	code := m.Run()
	_ = tp.Shutdown()
	os.Exit(code)
}

func startPlugin(t *testing.T) plugin {
	t.Helper()
	return shared
}

// pluginContext is what Grafana sends with each call: the datasource's
// settings, the token decrypted.
func pluginContext(uid, url, token string) backend.PluginContext {
	secure := map[string]string{}
	if token != "" {
		secure["token"] = token
	}
	return backend.PluginContext{
		PluginID: PluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			UID: uid, Name: "fleetwatch incidents " + uid, URL: url, JSONData: []byte(`{"timeoutSeconds": 5}`),
			DecryptedSecureJSONData: secure, Updated: t0,
		},
	}
}

// golden compares got (JSON) with testdata/<name>.golden.json, with the fake
// server's address replaced by FLEETWATCH.
func golden(t *testing.T, name string, got []byte, base string) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, got)
	}
	buf.WriteByte('\n')
	out := bytes.ReplaceAll(buf.Bytes(), []byte(base), []byte("FLEETWATCH"))
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plugins/... -update)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs from %s (go test -update rewrites it):\n%s", name, path, out)
	}
}

func TestQueryData(t *testing.T) {
	fake := newFake(t)
	p := startPlugin(t)
	tr := backend.TimeRange{From: at(-60), To: at(30)}
	cases := []struct {
		name  string
		query string
		// frame checks a user would make, besides the golden file
		rows   int
		status backend.Status
	}{
		{"incidents-all", `{"queryType":"incidents"}`, 4, backend.StatusOK},
		{"incidents-open-dc1", `{"queryType":"incidents","state":"open","site":"dc1","rack":".*"}`, 2, backend.StatusOK},
		{"incidents-two-sites-warning", `{"queryType":"incidents","site":"dc1,dc2","severity":"warning"}`, 2, backend.StatusOK},
		{"incidents-limit", `{"queryType":"incidents","limit":1}`, 1, backend.StatusOK},
		{"timeline-one", `{"queryType":"timeline","incidentId":"019a0002"}`, 3, backend.StatusOK},
		{"timeline-range-dc1", `{"queryType":"timeline","site":"dc1"}`, 5, backend.StatusOK},
		{"timeline-range-all", `{"queryType":"timeline"}`, 8, backend.StatusOK},
		{"metrics", `{"queryType":"metrics"}`, 18, backend.StatusOK},
		{"metrics-open-dc1", `{"queryType":"metrics","state":"open","site":"dc1"}`, 18, backend.StatusOK},
		{"bad-query-type", `{"queryType":"graphs"}`, -1, backend.StatusBadRequest},
		{"bad-state", `{"queryType":"incidents","state":"firing"}`, -1, backend.StatusBadRequest},
		{"unknown-incident", `{"queryType":"timeline","incidentId":"nope"}`, -1, backend.StatusNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := &backend.QueryDataRequest{
				PluginContext: pluginContext(t.Name(), fake.URL, testToken),
				Queries: []backend.DataQuery{{RefID: "A", JSON: json.RawMessage(c.query), TimeRange: tr,
					Interval: 5 * time.Minute, MaxDataPoints: 100}},
			}
			resp, err := p.client.QueryData(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			r := resp.Responses["A"]
			if r.Status != c.status {
				t.Fatalf("status %d (%v), want %d", r.Status, r.Error, c.status)
			}
			if c.rows >= 0 {
				if len(r.Frames) != 1 {
					t.Fatalf("%d frames, want 1", len(r.Frames))
				}
				if n, _ := r.Frames[0].RowLen(); n != c.rows {
					t.Errorf("%d rows, want %d", n, c.rows)
				}
			}
			b, err := json.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "query-"+c.name, b, fake.URL)
		})
	}
	if n := fake.unauthorized.Load(); n != 0 {
		t.Errorf("%d requests without the token", n)
	}
	// Requests are counted by endpoint and status on the injected registry.
	if got := testutil.ToFloat64(mustCounter(t, p.reg, "incident", "404")); got < 1 {
		t.Errorf("fleetwatch_grafana_plugin_requests_total{endpoint=incident,code=404} = %v, want at least 1", got)
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, endpoint, code string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "fleetwatch_grafana_plugin_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["endpoint"] == endpoint && l["code"] == code {
				c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x", Help: "x"})
				c.Add(m.GetCounter().GetValue())
				return c
			}
		}
	}
	t.Fatalf("no fleetwatch_grafana_plugin_requests_total{endpoint=%q,code=%q}", endpoint, code)
	return nil
}

// TestQueryDataIsolation: one failing query does not take the others of
// the same request down.
func TestQueryDataIsolation(t *testing.T) {
	fake := newFake(t)
	p := startPlugin(t)
	req := &backend.QueryDataRequest{
		PluginContext: pluginContext(t.Name(), fake.URL, testToken),
		Queries: []backend.DataQuery{
			{RefID: "A", JSON: json.RawMessage(`{"queryType":"incidents","state":"bogus"}`)},
			{RefID: "B", JSON: json.RawMessage(`{"queryType":"incidents"}`)},
			{RefID: "C", JSON: json.RawMessage(`{not json`)},
		},
	}
	resp, err := p.client.QueryData(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if e := resp.Responses["A"].Error; e == nil || !strings.Contains(e.Error(), "field state") {
		t.Errorf("A: error %v, want one naming field state", e)
	}
	if resp.Responses["B"].Error != nil || len(resp.Responses["B"].Frames) != 1 {
		t.Errorf("B: %+v, want the incidents", resp.Responses["B"])
	}
	if e := resp.Responses["C"].Error; e == nil || !strings.Contains(e.Error(), "query C") {
		t.Errorf("C: error %v, want one naming the query", e)
	}
}

func TestCheckHealth(t *testing.T) {
	fake := newFake(t)
	p := startPlugin(t)
	closed := "http://127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	noAPI := newFake(t)
	noAPI.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/status/buildinfo" {
			_, _ = w.Write([]byte(`{"status":"success","data":{"version":"0.0.9"}}`))
			return
		}
		http.NotFound(w, r)
	})
	cases := []struct {
		name, url, token string
		status           backend.HealthStatus
		want             []string
	}{
		{"ok", fake.URL, testToken, backend.HealthStatusOk, []string{"fleetwatch 0.1.0-test", "incidents API readable", "open incidents present"}},
		{"wrong-token", fake.URL, "guess", backend.HealthStatusError, []string{"refused the token", "HTTP 401"}},
		{"no-token", fake.URL, "", backend.HealthStatusError, []string{"wants a token"}},
		{"down", closed, testToken, backend.HealthStatusError, []string{"does not answer", closed}},
		{"no-incidents-api", noAPI.URL, testToken, backend.HealthStatusError, []string{"serves no incidents API"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := p.client.CheckHealth(context.Background(), &backend.CheckHealthRequest{PluginContext: pluginContext(t.Name(), c.url, c.token)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != c.status {
				t.Errorf("status %v (%s), want %v", res.Status, res.Message, c.status)
			}
			for _, w := range c.want {
				if !strings.Contains(res.Message, w) {
					t.Errorf("message %q lacks %q", res.Message, w)
				}
			}
			if c.token != "" && strings.Contains(res.Message, c.token) {
				t.Errorf("message %q shows the token", res.Message)
			}
		})
	}
}

// TestBadSettings: a datasource without a usable URL fails every call with
// an error naming the field, not a crash of the plugin.
func TestBadSettings(t *testing.T) {
	p := startPlugin(t)
	res, err := p.client.CheckHealth(context.Background(), &backend.CheckHealthRequest{PluginContext: pluginContext(t.Name(), "ftp://x", "")})
	switch {
	case err != nil:
		if !strings.Contains(err.Error(), "field url") {
			t.Errorf("error %v, want one naming field url", err)
		}
	case res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "field url"):
		t.Errorf("health %v %q, want an error naming field url", res.Status, res.Message)
	}
}

type collectSender struct {
	resp []*backend.CallResourceResponse
}

func (s *collectSender) Send(r *backend.CallResourceResponse) error {
	s.resp = append(s.resp, r)
	return nil
}

func TestCallResource(t *testing.T) {
	fake := newFake(t)
	p := startPlugin(t)
	cases := []struct {
		name, path, method string
		status             int
	}{
		{"incidents-open", "incidents?state=open", http.MethodGet, 200},
		{"incident-detail", "incidents/019a0003", http.MethodGet, 200},
		{"incident-missing", "incidents/nope", http.MethodGet, 404},
		{"bad-limit", "incidents?limit=x", http.MethodGet, 400},
		{"post-refused", "incidents/019a0001/ack", http.MethodPost, 404},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, query, _ := strings.Cut(c.path, "?")
			url := c.path
			s := &collectSender{}
			err := p.client.CallResource(context.Background(), &backend.CallResourceRequest{
				PluginContext: pluginContext(t.Name(), fake.URL, testToken), Path: path, Method: c.method, URL: url,
			}, s)
			_ = query
			if err != nil {
				t.Fatal(err)
			}
			if len(s.resp) == 0 {
				t.Fatal("no response")
			}
			if s.resp[0].Status != c.status {
				t.Errorf("status %d, want %d: %s", s.resp[0].Status, c.status, s.resp[0].Body)
			}
			var body bytes.Buffer
			for _, r := range s.resp {
				body.Write(r.Body)
			}
			golden(t, "resource-"+c.name, body.Bytes(), fake.URL)
		})
	}
}

func TestParseSettings(t *testing.T) {
	cases := []struct {
		name, url, json string
		want            string // error substring, "" = ok
	}{
		{"url field", "http://127.0.0.1:9470/", ``, ""},
		{"jsonData url", "", `{"url":"https://fw.example:9470"}`, ""},
		{"missing", "", `{}`, "field url"},
		{"scheme", "127.0.0.1:9470", ``, "field url"},
		{"timeout", "http://x", `{"timeoutSeconds":-1}`, "field timeoutSeconds"},
		{"json", "http://x", `{`, "jsonData"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSettings(c.url, []byte(c.json), map[string]string{"token": "t"})
			if c.want == "" {
				if err != nil || strings.HasSuffix(s.URL, "/") || s.Token != "t" || s.Timeout != 30 {
					t.Errorf("%+v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add("http://127.0.0.1:9470", `{"timeoutSeconds": 3}`)
	f.Add("", `{"url": "https://x"}`)
	f.Fuzz(func(t *testing.T, u, js string) {
		s, err := ParseSettings(u, []byte(js), nil)
		if err == nil && (s.URL == "" || s.Timeout <= 0) {
			t.Fatalf("accepted %+v", s)
		}
	})
}

// FuzzQuery: any query JSON gives a response (data or an error), never a
// panic, and sends only GETs (the fake fails the test otherwise).
func FuzzQuery(f *testing.F) {
	f.Add(`{"queryType":"incidents","state":"open,resolved","site":"dc1,dc2"}`)
	f.Add(`{"queryType":"timeline","incidentId":"019a0001"}`)
	f.Add(`{"queryType":"metrics","limit":5}`)
	f.Add(`{"queryType":3}`)
	f.Fuzz(func(t *testing.T, js string) {
		fake := newFake(t)
		factory, _ := NewFactory(Options{Now: func() time.Time { return at(30) }})
		inst, err := factory(context.Background(), *pluginContext("f", fake.URL, testToken).DataSourceInstanceSettings)
		if err != nil {
			t.Fatal(err)
		}
		d := inst.(*Datasource)
		r := d.query(context.Background(), backend.DataQuery{RefID: "A", JSON: json.RawMessage(js),
			TimeRange: backend.TimeRange{From: at(-60), To: at(30)}, Interval: time.Minute, MaxDataPoints: 50})
		if r.Error == nil && len(r.Frames) != 1 {
			t.Fatalf("no error and %d frames", len(r.Frames))
		}
	})
}

package promapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// scrapeInto fetches one exposition from url and appends it to db at ts
// through AppenderV2, with the target labels job and instance and an up
// series, as a scrape would. It returns the metadata of the families seen.
func scrapeInto(t testing.TB, db *tsdb.DB, url, job, instance string, ts time.Time) map[string]metadata.Metadata {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	p, err := textparse.New(body, resp.Header.Get("Content-Type"), nil, textparse.ParserOptions{FallbackContentType: "text/plain"})
	if p == nil {
		t.Fatalf("scrape %s: no parser for %q: %v", url, resp.Header.Get("Content-Type"), err)
	}
	md := map[string]metadata.Metadata{}
	app := db.AppenderV2(context.Background())
	ms := ts.UnixMilli()
	var lset labels.Labels
	b := labels.NewBuilder(labels.EmptyLabels())
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("scrape %s: parse: %v", url, err)
		}
		switch e {
		case textparse.EntryType:
			name, typ := p.Type()
			m := md[string(name)]
			m.Type = typ
			md[string(name)] = m
		case textparse.EntryHelp:
			name, help := p.Help()
			m := md[string(name)]
			m.Help = string(help)
			md[string(name)] = m
		case textparse.EntrySeries:
			_, _, v := p.Series()
			p.Labels(&lset)
			b.Reset(lset)
			b.Set("job", job)
			b.Set("instance", instance)
			if _, err := app.Append(0, b.Labels(), 0, ms, v, nil, nil, storage.AppendV2Options{}); err != nil {
				t.Fatalf("append %s: %v", lset, err)
			}
		}
	}
	up := labels.FromStrings("__name__", "up", "instance", instance, "job", job)
	if _, err := app.Append(0, up, 0, ms, 1, nil, nil, storage.AppendV2Options{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	return md
}

// scrapedMetadata is a MetadataLister over what scrapeInto saw.
type scrapedMetadata map[string]metadata.Metadata

func (s scrapedMetadata) Metadata(metric string, limit int) map[string][]metadata.Metadata {
	out := map[string][]metadata.Metadata{}
	for name, m := range s {
		if metric != "" && name != metric {
			continue
		}
		if limit >= 0 && len(out) >= limit {
			break
		}
		out[name] = []metadata.Metadata{m}
	}
	return out
}

// shape describes the structure of a JSON value: object keys, JSON types,
// and the distinct shapes of array elements, but not the values. At the
// paths in free, an object's keys are data (label names, metric names):
// only the shape of its values counts.
func shape(v any, path string, free map[string]bool) string {
	switch x := v.(type) {
	case map[string]any:
		if free[strings.TrimPrefix(path, ".")] {
			var vals []string
			for _, e := range x {
				vals = append(vals, shape(e, path+".*", free))
			}
			return "map{" + strings.Join(dedup(vals), "|") + "}"
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + shape(x[k], path+"."+k, free)
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		var elems []string
		for _, e := range x {
			elems = append(elems, shape(e, path+"[]", free))
		}
		return "[" + strings.Join(dedup(elems), "|") + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

func dedup(s []string) []string {
	sort.Strings(s)
	return slices.Compact(s)
}

// addedAfter242 are keys Prometheus added after 2.42 (the version installed
// here) that fleetwatch serves as 3.x does: they may be missing on the peer.
var addedAfter242 = []string{"droppedTargetCounts:{}"}

// TestShapeMatchesPrometheus sends the same requests to Debian's Prometheus
// and to fleetwatch, both holding scrapes of the same node_exporter, and
// compares the JSON shape, HTTP status, resultType and errorType.
func TestShapeMatchesPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts prometheus and node_exporter")
	}
	node := testpeer.NodeExporter(t)
	promAddr := testpeer.Prometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: [%q]
`, node))
	prom := "http://" + promAddr

	db := openDB(t)
	md := map[string]metadata.Metadata{}
	for i := 0; i < 4; i++ {
		for k, v := range scrapeInto(t, db, "http://"+node+"/metrics", "node", node, time.Now()) {
			md[k] = v
		}
		time.Sleep(time.Second)
	}
	reg := prometheus.NewRegistry()
	api := New(Options{
		Queryable:  db,
		Engine:     NewEngine(EngineOptions{}, nil, reg),
		Metadata:   scrapedMetadata(md),
		Targets:    fakeTargets{{Labels: labels.FromStrings("instance", node, "job", "node"), DiscoveredLabels: labels.FromStrings("__address__", node, "job", "node"), ScrapePool: "node", ScrapeURL: "http://" + node + "/metrics", GlobalURL: "http://" + node + "/metrics", LastScrape: time.Now(), Health: "up", ScrapeInterval: "1s", ScrapeTimeout: "1s"}},
		BuildInfo:  BuildInfo{Version: "0.1.0"},
		Registerer: reg,
	})
	mux := http.NewServeMux()
	api.Register(mux)
	fw := httpTestServer(t, mux)

	// Wait until Prometheus has scraped four times, enough for a 1m rate at
	// a whole-second time.
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, body := do(t, prom, "GET", "/api/v1/query", form("query", "count_over_time(up[1m]) >= 4"))
		if strings.Contains(string(body), `"value"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus has not scraped 4 times after 30s: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
	}

	now := strconv.FormatInt(time.Now().Unix(), 10)
	start := strconv.FormatInt(time.Now().Add(-30*time.Second).Unix(), 10)
	labelsFree := map[string]bool{"data.result[].metric": true}
	cases := []struct {
		name   string
		method string
		path   string
		form   []string
		free   map[string]bool
	}{
		{"instant up", "GET", "/api/v1/query", []string{"query", "up", "time", now}, labelsFree},
		{"instant up POST", "POST", "/api/v1/query", []string{"query", "up", "time", now}, labelsFree},
		{"rate", "GET", "/api/v1/query", []string{"query", "rate(node_cpu_seconds_total[1m])", "time", now}, labelsFree},
		{"scalar", "GET", "/api/v1/query", []string{"query", "1+1", "time", "4"}, nil},
		{"range", "GET", "/api/v1/query_range", []string{"query", "sum by (mode) (node_cpu_seconds_total)", "start", start, "end", now, "step", "5"}, labelsFree},
		{"series", "GET", "/api/v1/series", []string{"match[]", "node_load1", "start", start, "end", now}, map[string]bool{"data[]": true}},
		{"labels", "GET", "/api/v1/labels", []string{"start", start, "end", now}, nil},
		{"label values", "GET", "/api/v1/label/__name__/values", []string{"start", start, "end", now}, nil},
		{"metadata", "GET", "/api/v1/metadata", []string{"metric", "node_load1"}, map[string]bool{"data": true}},
		{"buildinfo", "GET", "/api/v1/status/buildinfo", nil, nil},
		{"targets", "GET", "/api/v1/targets", nil, map[string]bool{"data.activeTargets[].labels": true, "data.activeTargets[].discoveredLabels": true}},
		{"bad query", "GET", "/api/v1/query", []string{"query", "rate(up[5m]", "time", now}, nil},
		{"bad time", "GET", "/api/v1/query", []string{"query", "up", "time", "noon"}, nil},
		{"bad step", "GET", "/api/v1/query_range", []string{"query", "up", "start", start, "end", now, "step", "-1"}, nil},
		{"too many points", "GET", "/api/v1/query_range", []string{"query", "up", "start", "0", "end", now, "step", "1"}, nil},
		{"series without match", "GET", "/api/v1/series", nil, nil},
		{"execution error", "GET", "/api/v1/query", []string{"query", `label_replace(node_cpu_seconds_total, "cpu", "x", "", "")`, "time", now}, nil},
	}
	wantData := map[string]bool{"instant up": true, "instant up POST": true, "rate": true, "range": true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pCode, pBody := do(t, prom, tc.method, tc.path, form(tc.form...))
			fCode, fBody := do(t, fw, tc.method, tc.path, form(tc.form...))
			if pCode != fCode {
				t.Errorf("HTTP %d, prometheus %d\nfleetwatch: %s\nprometheus: %s", fCode, pCode, fBody, pBody)
			}
			var pv, fv map[string]any
			if err := json.Unmarshal(pBody, &pv); err != nil {
				t.Fatalf("prometheus: %v: %s", err, pBody)
			}
			if err := json.Unmarshal(fBody, &fv); err != nil {
				t.Fatalf("fleetwatch: %v: %s", err, fBody)
			}
			for _, k := range []string{"status", "errorType"} {
				if pv[k] != fv[k] {
					t.Errorf("%s %v, prometheus %v", k, fv[k], pv[k])
				}
			}
			if pd, ok := pv["data"].(map[string]any); ok {
				fd, _ := fv["data"].(map[string]any)
				if pd["resultType"] != fd["resultType"] {
					t.Errorf("resultType %v, prometheus %v", fd["resultType"], pd["resultType"])
				}
			}
			ps, fs := shape(pv, "", tc.free), shape(fv, "", tc.free)
			for _, k := range addedAfter242 {
				if !strings.Contains(ps, k) {
					fs = strings.Replace(fs, k+",", "", 1)
					fs = strings.Replace(fs, ","+k, "", 1)
				}
			}
			if wantData[tc.name] && (strings.Contains(ps, "result:[]") || strings.Contains(fs, "result:[]")) {
				t.Errorf("empty result, want series on both\nfleetwatch: %.300s\nprometheus: %.300s", fBody, pBody)
			}
			if ps != fs {
				t.Errorf("shape differs\nfleetwatch: %s\nprometheus: %s\nfleetwatch body: %.600s\nprometheus body: %.600s", fs, ps, fBody, pBody)
			}
		})
	}

	t.Run("federate", func(t *testing.T) {
		f := form("match[]", "node_load1", "match[]", `up{job="node"}`)
		pCode, pBody := do(t, prom, "GET", "/federate", f)
		fCode, fBody := do(t, fw, "GET", "/federate", f)
		if pCode != 200 || fCode != 200 {
			t.Fatalf("HTTP %d, prometheus %d: %s", fCode, pCode, fBody)
		}
		ps, fs := exposition(string(pBody)), exposition(string(fBody))
		if ps != fs {
			t.Errorf("federation differs\nfleetwatch:\n%s\nprometheus:\n%s", fBody, pBody)
		}
	})
}

// exposition reduces a text exposition to its structure: comment lines as
// they are, sample lines as metric name, label names and whether a value
// and a timestamp are present.
func exposition(s string) string {
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if strings.HasPrefix(line, "#") {
			out = append(out, line)
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		lbls, vals, _ := strings.Cut(rest, "}")
		var names []string
		for _, kv := range strings.Split(lbls, ",") {
			n, _, _ := strings.Cut(kv, "=")
			names = append(names, n)
		}
		out = append(out, fmt.Sprintf("%s{%s} %d fields", name, strings.Join(names, ","), len(strings.Fields(vals))))
	}
	return strings.Join(out, "\n")
}

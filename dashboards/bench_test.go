package dashboards

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// benchScrape is the synthetic fleet's sample spacing: the datasource's
// "Scrape interval" Grafana would be set to.
const benchScrape = 30 * time.Second

// BenchmarkDashboardRefresh loads about 100,000 series of a synthetic
// datacenter (2 sites × 14 racks × 40 servers with their BMCs, hosts, a
// 48-port switch per rack, probes, alerts, anomaly scores; 58 minutes of
// history at 30 s) into fleetwatch and, in the same run, into Debian's
// Prometheus scraping the same targets, then times a full refresh of each
// dashboard against each: every panel's queries, variables on "All", the
// last hour, 6 queries at a time as a browser sends them.
//
//	go test ./dashboards -run '^$' -bench DashboardRefresh -benchtime 5x -timeout 30m
//
// Figures: ns/op is one dashboard's full refresh (wall time); server-cpu-ms
// is the server's own CPU per refresh (its process_cpu_seconds_total).
func BenchmarkDashboardRefresh(b *testing.B) {
	fleet := &synthFleet{sites: 2, racksPerSite: 14, serversPerRack: 40, portsPerSwitch: 48,
		start: time.Now().Add(-58 * time.Minute).Truncate(time.Second), step: benchScrape, scrap: map[string]int64{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: fleet.handler()}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Close() })
	exporter := ln.Addr().String()
	b.Logf("synthetic fleet: %d racks × %d series = %d series", fleet.racks(), fleet.seriesPerRack(), fleet.racks()*fleet.seriesPerRack())

	fw, fwCfg := startBenchFleetwatch(b, fleet, exporter)
	prom, promCfg := startBenchPrometheus(b, fleet, exporter)

	deadline := time.Now().Add(15 * time.Minute)
	for !(fleet.caughtUp("Prometheus") && fleet.caughtUp("fleetwatch")) {
		if time.Now().After(deadline) {
			b.Fatalf("history not loaded after 15 minutes: %v", fleet.scrap)
		}
		time.Sleep(2 * time.Second)
	}
	// History loaded: collect every 30 s from now on, as a fleet would,
	// so the refreshes are not measured under 100,000 samples/s of ingest.
	fwCfg.reload(b, "1s", benchScrape.String())
	promCfg.reload(b, "1s", benchScrape.String())
	servers := []struct {
		name string
		c    promClient
	}{{"fleetwatch", fw}, {"prometheus", prom}}
	// A reload starts the targets again: wait until every series has a
	// sample at the present again (instant queries see the whole fleet).
	want := fleet.racks() * fleet.seriesPerRack()
	for _, s := range servers {
		for {
			r, err := s.c.post(context.Background(), "/api/v1/query", map[string][]string{"query": {`count({__name__=~".+",job!="fleetwatch"})`}})
			if err != nil {
				b.Fatal(err)
			}
			var v struct {
				Value [2]any `json:"value"`
			}
			n := 0
			if len(r.Data.Result) == 1 && json.Unmarshal(r.Data.Result[0], &v) == nil {
				n, _ = strconv.Atoi(fmt.Sprint(v.Value[1]))
			}
			if n >= want {
				b.Logf("%s: %d series at the present", s.name, n)
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: %d series at the present, want %d", s.name, n, want)
			}
			time.Sleep(2 * time.Second)
		}
	}

	dashboards := dashboardFiles(b)
	iv := Interval{Range: time.Hour, ScrapeInterval: benchScrape, MaxDataPoints: 1000}
	for _, s := range servers {
		for _, name := range sortedKeys(dashboards) {
			m := dashboards[name]
			if s.name == "prometheus" && m.UID == "fleetwatch-self" {
				continue // fleetwatch's own metrics: Prometheus has none
			}
			b.Run(s.name+"/"+strings.TrimSuffix(name, ".json"), func(b *testing.B) {
				ctx := context.Background()
				now := time.Now()
				vals, err := resolveVars(ctx, s.c, m, SelectAll, iv, now)
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := processCPU(b, s.c)
				b.ResetTimer()
				series := 0
				for b.Loop() {
					outs, _ := refresh(ctx, s.c, m, vals, iv, now)
					series = 0
					for _, o := range outs {
						if o.Err != nil {
							b.Fatalf("panel %q query %s: %v", o.Panel, o.RefID, o.Err)
						}
						series += o.Series
					}
				}
				b.StopTimer()
				cpu := processCPU(b, s.c) - cpu0
				b.ReportMetric(cpu*1000/float64(b.N), "server-cpu-ms")
				b.ReportMetric(float64(series), "series-returned")
			})
		}
	}
}

// processCPU reads the server's process_cpu_seconds_total from its /metrics.
func processCPU(b *testing.B, c promClient) float64 {
	b.Helper()
	resp, err := c.hc.Get(c.base + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_cpu_seconds_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}
	}
	b.Fatalf("%s/metrics has no process_cpu_seconds_total", c.base)
	return 0
}

// rackPath sets each target's path from its labels (/rack/<site>/<rack>).
const rackPath = `    relabel_configs:
      - source_labels: [site, rack]
        separator: /
        target_label: __metrics_path__
        replacement: /rack/$1
`

// targetsYAML lists one static target per rack with its site and rack.
func targetsYAML(f *synthFleet, indent string) string {
	var sb strings.Builder
	for i := range f.racks() {
		fmt.Fprintf(&sb, "%s- targets: [RACK%d]\n%s  labels: {site: dc%d, rack: r%02d}\n",
			indent, i, indent, i/f.racksPerSite+1, i%f.racksPerSite+1)
	}
	return sb.String()
}

// reloadable is a server's config file and its reload endpoint.
type reloadable struct{ file, url string }

// reload replaces old with new in the config file and reloads the server.
func (r reloadable) reload(b *testing.B, old, new string) {
	b.Helper()
	cfg, err := os.ReadFile(r.file)
	if err != nil {
		b.Fatal(err)
	}
	cfg = bytes.ReplaceAll(cfg, []byte(": "+old+"\n"), []byte(": "+new+"\n"))
	if err := os.WriteFile(r.file, cfg, 0o600); err != nil {
		b.Fatal(err)
	}
	resp, err := http.Post(r.url, "", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("reload %s: HTTP %d", r.url, resp.StatusCode)
	}
}

func startBenchFleetwatch(b *testing.B, f *synthFleet, exporter string) (promClient, reloadable) {
	bin := fleetwatchBinary(b)
	dir := b.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(b))
	targets := targetsYAML(f, "      ")
	for i := range f.racks() {
		targets = strings.Replace(targets, "RACK"+strconv.Itoa(i)+"]", exporter+"]", 1)
	}
	var cfg bytes.Buffer
	tmpl := template.Must(template.ParseFiles("testdata/bench.yml"))
	if err := tmpl.Execute(&cfg, map[string]string{"Listen": listen, "Dir": dir, "Targets": targets, "Relabel": rackPath}); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "fleetwatch.yml")
	if err := os.WriteFile(path, cfg.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	testpeer.Start(b, bin, "serve", "--config.file="+path, "--log.level=warn")
	testpeer.WaitHTTP(b, "http://"+listen+"/-/ready", 60*time.Second)
	return promClient{base: "http://" + listen, hc: &http.Client{Timeout: 2 * time.Minute}},
		reloadable{file: path, url: "http://" + listen + "/-/reload"}
}

func startBenchPrometheus(b *testing.B, f *synthFleet, exporter string) (promClient, reloadable) {
	targets := targetsYAML(f, "      ")
	for i := range f.racks() {
		targets = strings.Replace(targets, "RACK"+strconv.Itoa(i)+"]", exporter+"]", 1)
	}
	cfg := "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: synth\n    honor_labels: true\n" + rackPath + "    static_configs:\n" + targets
	addr := testpeer.Prometheus(b, cfg, "--query.max-samples=50000000", "--web.enable-lifecycle")
	c := promClient{base: "http://" + addr, hc: &http.Client{Timeout: 2 * time.Minute}}
	// Where testpeer wrote the config: Prometheus says.
	resp, err := c.hc.Get(c.base + "/api/v1/status/flags")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var flags struct {
		Data map[string]string `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&flags); err != nil || flags.Data["config.file"] == "" {
		b.Fatalf("prometheus flags: %v", err)
	}
	return c, reloadable{file: flags.Data["config.file"], url: c.base + "/-/reload"}
}

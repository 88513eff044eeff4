package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// startServe runs `fleetwatch serve --config.file=cfg`, killed when the test
// ends (its log printed if the test failed), and returns its log.
func startServe(t *testing.T, bin, cfg string) *testpeer.Output {
	t.Helper()
	var logs testpeer.Output
	cmd := exec.Command(bin, "serve", "--config.file="+cfg)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("fleetwatch log:\n%s", logs.String())
		}
	})
	return &logs
}

// buildBinary compiles fleetwatch once for the end-to-end tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fleetwatch")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type promResponse struct {
	Status string `json:"status"`
	Data   struct {
		ResultType string `json:"resultType"`
		Result     []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	} `json:"data"`
	Error string `json:"error"`
}

func query(t *testing.T, base, q string) promResponse {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r promResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond every 100 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}

// TestEndToEnd runs the binary as a user would: start on a free port with a
// config, wait for ready, query up and a host metric, reload a broken config
// (the old one keeps running), reload a good one, then SIGTERM.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	port := testpeer.FreePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	cfgFile := filepath.Join(dir, "fleetwatch.yml")
	good := fmt.Sprintf(`
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
server:
  listen_address: 127.0.0.1:%d
storage:
  path: data
rule_files: [rules.yml]
alerting:
  config_file: alerting.yml
jobs:
  - job_name: host
    type: host
  - job_name: self
    type: scrape
    static_configs:
      - targets: [127.0.0.1:%d]
`, port, port)
	if err := os.WriteFile(cfgFile, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	ruleFile := `groups:
  - name: e2e
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: TargetUp
        expr: up == 1
`
	if err := os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(ruleFile), 0o644); err != nil {
		t.Fatal(err)
	}
	alerting := "route:\n  receiver: record\n  group_by: [alertname]\n  group_wait: 0s\nreceivers:\n  - name: record\n"
	if err := os.WriteFile(filepath.Join(dir, "alerting.yml"), []byte(alerting), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs testpeer.Output
	cmd := exec.Command(bin, "serve", "--config.file="+cfgFile)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("fleetwatch log:\n%s", logs.String())
		}
	}()
	testpeer.WaitHTTP(t, base+"/-/ready", 30*time.Second)
	if code, _ := get(t, base+"/-/healthy"); code != 200 {
		t.Fatalf("/-/healthy: %d", code)
	}

	waitFor(t, 15*time.Second, "up of both jobs", func() bool {
		r := query(t, base, `up == 1`)
		return len(r.Data.Result) == 2
	})
	r := query(t, base, `node_memory_MemTotal_bytes`)
	if r.Status != "success" || len(r.Data.Result) != 1 || r.Data.Result[0].Metric["job"] != "host" {
		t.Fatalf("node_memory_MemTotal_bytes: %+v", r)
	}
	if r := query(t, base, `sum by (mode) (rate(node_cpu_seconds_total[5s]))`); len(r.Data.Result) == 0 {
		waitFor(t, 10*time.Second, "a CPU rate", func() bool {
			return len(query(t, base, `sum by (mode) (rate(node_cpu_seconds_total[5s]))`).Data.Result) > 0
		})
	}
	if r := query(t, base, `fleetwatch_collector_collections_total{job="self",exported_job="host"}`); len(r.Data.Result) != 1 {
		t.Fatalf("fleetwatch's own metrics not scraped: %+v", r)
	}
	waitFor(t, 10*time.Second, "the recording rule's output", func() bool {
		return len(query(t, base, `job:up:sum`).Data.Result) == 2
	})
	if code, body := get(t, base+"/api/v1/rules"); code != 200 || !strings.Contains(body, `"name":"e2e"`) {
		t.Fatalf("/api/v1/rules: %d %s", code, body)
	}
	// The firing rule reaches the alerter: an incident opens, and the
	// Alertmanager API lists the alerts.
	waitFor(t, 15*time.Second, "an incident for TargetUp", func() bool {
		_, body := get(t, base+"/api/v1/incidents")
		return strings.Contains(body, "TargetUp")
	})
	if code, body := get(t, base+"/api/v2/alerts"); code != 200 || !strings.Contains(body, `"alertname":"TargetUp"`) {
		t.Fatalf("/api/v2/alerts: %d %s", code, body)
	}
	if code, body := get(t, base+"/"); code != 200 || !strings.Contains(body, "TargetUp") {
		t.Fatalf("the UI's incidents page: %d, TargetUp not shown", code)
	}
	_, list := get(t, base+"/api/v1/incidents")
	var incidents struct {
		Incidents []struct {
			ID string `json:"id"`
		} `json:"incidents"`
	}
	if err := json.Unmarshal([]byte(list), &incidents); err != nil || len(incidents.Incidents) == 0 {
		t.Fatalf("/api/v1/incidents: %v %s", err, list)
	}
	incidentID := incidents.Incidents[0].ID
	if code, body := get(t, base+"/api/v1/incidents/"+incidentID+"/postmortem?format=md"); code != 200 || !strings.Contains(body, "TargetUp") {
		t.Fatalf("postmortem over HTTP: %d\n%s", code, body)
	}
	var cliOut, cliErr strings.Builder
	if code := run([]string{"incidents", "list", "--url", base}, &cliOut, &cliErr); code != 0 || !strings.Contains(cliOut.String(), "TargetUp") {
		t.Fatalf("fleetwatch incidents list: exit %d\n%s%s", code, cliOut.String(), cliErr.String())
	}

	// A broken config: reload fails, the old one keeps running.
	if err := os.WriteFile(cfgFile, []byte(good+"  - job_name: host\n    type: host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), `job_name: "host" already used`) {
		t.Fatalf("broken reload answered %d %q", resp.StatusCode, body)
	}
	_, metrics := get(t, base+"/metrics")
	if !strings.Contains(metrics, "fleetwatch_config_last_reload_successful 0") {
		t.Fatal("fleetwatch_config_last_reload_successful is not 0 after a failed reload")
	}
	before := query(t, base, `count(up)`).Data.Result
	time.Sleep(1500 * time.Millisecond)
	if r := query(t, base, `up == 1`); len(r.Data.Result) != 2 || len(before) == 0 {
		t.Fatalf("targets after a failed reload: %+v", r)
	}

	// SIGHUP with a good config that drops the self job.
	only := strings.SplitN(good, "  - job_name: self", 2)[0]
	if err := os.WriteFile(cfgFile, []byte(only), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the reload to drop the self job", func() bool {
		_, m := get(t, base+"/metrics")
		return strings.Contains(m, "fleetwatch_config_last_reload_successful 1") &&
			len(query(t, base, `up{job="self"}`).Data.Result) == 0 // stale-marked
	})

	// SIGTERM: stops within a few seconds, exit 0, TSDB closed.
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("still running 10 s after SIGTERM")
	}
	t.Logf("stopped %v after SIGTERM", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(logs.String(), "TSDB closed") {
		t.Fatal("log does not say the TSDB was closed")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "wal")); err != nil {
		t.Fatalf("no WAL under the config-relative data path: %v", err)
	}

	// The postmortem draft from the stored data, as the CLI writes it.
	var pmOut, pmErr strings.Builder
	if code := run([]string{"postmortem", "-c", cfgFile, incidentID, "--format", "md"}, &pmOut, &pmErr); code != 0 || !strings.Contains(pmOut.String(), "TargetUp") {
		t.Fatalf("fleetwatch postmortem: exit %d\n%s\n%s", code, pmOut.String(), pmErr.String())
	}

	// The stored history backtests: TargetUp fired for both targets.
	var out, errb strings.Builder
	if code := run([]string{"rules", "backtest", "--rules", filepath.Join(dir, "rules.yml"), "--storage.path", filepath.Join(dir, "data"), "--from", "10m"}, &out, &errb); code != 0 {
		t.Fatalf("backtest exit %d: %s", code, errb.String())
	}
	var firing string
	for _, line := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(line); len(f) > 5 && f[2] == "TargetUp" {
			firing = f[5] // INSTANCES
		}
	}
	if firing != "2" {
		t.Fatalf("backtest report: TargetUp instances %q, want 2:\n%s", firing, out.String())
	}
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("jobs:\n  - job_name: a\n    type: nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	if code := run([]string{"check", "config", "../../examples/fleetwatch.yml"}, &out, &errb); code != 0 {
		t.Fatalf("example config: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"check", "config", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	if want := bad + `:3: jobs[0] (a).type: "nope" is not one of host, scrape`; !strings.Contains(errb.String(), want) {
		t.Fatalf("stderr %q, want %q", errb.String(), want)
	}
	out.Reset()
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "fleetwatch, version ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help exit %d", code)
	}
}

package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// fleetwatch is one `fleetwatch serve` on a data directory that outlives
// its process: start, kill -9, start again.
type fleetwatch struct {
	t    testing.TB
	dir  string
	cfg  string
	URL  string
	logs *testpeer.Output
	cmd  *exec.Cmd
	done chan struct{}
}

// newFleetwatch writes fleetwatch.yml and alerting.yml (alerting is the
// alerter's file) in a temporary directory; files are extra files to
// write there (routing keys). It does not start the process.
func newFleetwatch(t testing.TB, alerting string, files map[string]string) *fleetwatch {
	t.Helper()
	dir := t.TempDir()
	port := testpeer.FreePort(t)
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "alerting.yml"), []byte(alerting), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "fleetwatch.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
server:
  listen_address: 127.0.0.1:%d
storage:
  path: %s
alerting:
  config_file: %s
`, port, filepath.Join(dir, "data"), filepath.Join(dir, "alerting.yml"))), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &fleetwatch{t: t, dir: dir, cfg: cfg, URL: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &testpeer.Output{}}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("fleetwatch output:\n%s", f.logs.String())
		}
	})
	return f
}

// start runs the binary and waits until it is ready.
func (f *fleetwatch) start() {
	f.t.Helper()
	if f.cmd != nil {
		f.t.Fatal("fleetwatch already running")
	}
	fmt.Fprintf(f.logs, "--- start %s\n", time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(binary, "serve", "--config.file="+f.cfg, "--log.level=info")
	cmd.Stdout, cmd.Stderr = f.logs, f.logs
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.cmd, f.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(f.done)
	testpeer.WaitHTTP(f.t, f.URL+"/-/ready", 60*time.Second)
}

// kill sends SIGKILL and waits for the process to be gone.
func (f *fleetwatch) kill() {
	f.t.Helper()
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGKILL)
	<-f.done
	fmt.Fprintf(f.logs, "--- killed %s\n", time.Now().Format(time.RFC3339Nano))
	f.cmd = nil
}

// stop ends the process politely (SIGTERM, then SIGKILL after 10 s).
func (f *fleetwatch) stop() {
	if f.cmd == nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-f.done
	}
	f.cmd = nil
}

// pid is the running process's id.
func (f *fleetwatch) pid() int { return f.cmd.Process.Pid }

// postAlerts POSTs body to url's /api/v2/alerts and fails the test unless
// it is answered 200.
func postAlerts(t testing.TB, url, body string) {
	t.Helper()
	resp, err := http.Post(url+"/api/v2/alerts", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s/api/v2/alerts: %d %s", url, resp.StatusCode, b)
	}
}

// getJSON GETs url into v.
func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("GET %s: %v: %s", url, err, b)
	}
}

// alertJSON is one postable alert; endsAt "" leaves it firing.
func alertJSON(labels map[string]string, endsAt time.Time) string {
	a := map[string]any{"labels": labels}
	if !endsAt.IsZero() {
		a["endsAt"] = endsAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(a)
	return string(b)
}

// waitUntil polls cond every 20 ms until it holds or timeout passes.
func waitUntil(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

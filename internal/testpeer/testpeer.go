package testpeer

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Need returns the path of the named binary, or stops the test: a skip on a
// developer's machine, a failure under CI=true.
func Need(t testing.TB, binary string) string {
	t.Helper()
	p, err := exec.LookPath(binary)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("peer %s is not installed (run `make deps`): %v", binary, err)
	}
	t.Skipf("peer %s is not installed (run `make deps`)", binary)
	return ""
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Process is a peer started by Start. It is stopped when the test ends.
type Process struct {
	Cmd    *exec.Cmd
	Output *Output
}

// Start runs binary with args, stopping it (SIGTERM, then SIGKILL after 5 s)
// when the test ends. Its combined output is kept and printed if the test fails.
func Start(t testing.TB, binary string, args ...string) *Process {
	t.Helper()
	path := Need(t, binary)
	out := &Output{}
	cmd := exec.Command(path, args...)
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", binary, out.String())
		}
	})
	return &Process{Cmd: cmd, Output: out}
}

// WaitHTTP polls url until it answers 200 or the timeout passes.
func WaitHTTP(t testing.TB, url string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready after %v: %v", url, timeout, last)
}

// NodeExporter starts Debian's prometheus-node-exporter on a free loopback
// port and returns its address (host:port) once /metrics answers.
func NodeExporter(t testing.TB, extraArgs ...string) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	args := append([]string{"--web.listen-address=" + addr}, extraArgs...)
	Start(t, "prometheus-node-exporter", args...)
	WaitHTTP(t, "http://"+addr+"/metrics", 15*time.Second)
	return addr
}

// Prometheus starts Debian's prometheus with the given configuration text on
// a free loopback port, data in a temporary directory, and returns its address
// once /-/ready answers.
func Prometheus(t testing.TB, configYAML string, extraArgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := dir + "/prometheus.yml"
	if err := os.WriteFile(cfg, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	args := append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + dir + "/data",
		"--web.listen-address=" + addr,
	}, extraArgs...)
	Start(t, "prometheus", args...)
	WaitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return addr
}

// Output collects a process's (or a logger's) output while the test
// reads it: writes and reads may come from different goroutines.
type Output struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

package fwproc

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// BinEnv names the environment variable that points the suites at an
// already built binary (`make build` then FLEETWATCH_BIN=bin/fleetwatch),
// instead of building one per test.
const BinEnv = "FLEETWATCH_BIN"

// Build returns the fleetwatch binary to test: $FLEETWATCH_BIN when set,
// otherwise ./cmd/fleetwatch built into the test's temporary directory.
func Build(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(BinEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatalf("%s=%q: %v", BinEnv, p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s=%q: %v", BinEnv, p, err)
		}
		return abs
	}
	bin := filepath.Join(t.TempDir(), "fleetwatch")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/fleetwatch/fleetwatch/cmd/fleetwatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/fleetwatch: %v\n%s", err, out)
	}
	return bin
}

// Options start a Server.
type Options struct {
	// Dir holds the config file and everything it names; data goes to
	// Dir/data unless the config says otherwise.
	Dir string
	// Config is the config text, written to Dir/fleetwatch.yml. Its
	// server.listen_address is overridden by a free loopback port.
	Config string
	// Env is added to the test's environment.
	Env []string
	// Args are added after the serve flags (e.g. --log.level=debug).
	Args []string
	// ReadyTimeout bounds the wait for /-/ready (default 60 s).
	ReadyTimeout time.Duration
}

// Server is a running `fleetwatch serve`.
type Server struct {
	// Base is http://127.0.0.1:<port>, Addr the host:port.
	Base, Addr string
	Dir        string
	Cmd        *exec.Cmd
	log        *logBuffer
	done       chan struct{}
}

// Start writes the config and runs `fleetwatch serve` on a free port,
// returning once /-/ready answers. The process gets SIGTERM (then SIGKILL
// after 15 s) when the test ends; its log is printed if the test failed.
func Start(t testing.TB, bin string, o Options) *Server {
	t.Helper()
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 60 * time.Second
	}
	cfg := filepath.Join(o.Dir, "fleetwatch.yml")
	if err := os.WriteFile(cfg, []byte(o.Config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	args := append([]string{"serve", "--config.file=" + cfg, "--web.listen-address=" + addr}, o.Args...)
	s := &Server{Base: "http://" + addr, Addr: addr, Dir: o.Dir, log: &logBuffer{}, done: make(chan struct{})}
	s.Cmd = exec.Command(bin, args...)
	s.Cmd.Dir = o.Dir
	s.Cmd.Env = append(os.Environ(), o.Env...)
	s.Cmd.Stdout, s.Cmd.Stderr = s.log, s.log
	if err := s.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	go func() { _ = s.Cmd.Wait(); close(s.done) }()
	t.Cleanup(func() {
		s.Stop(15 * time.Second)
		if t.Failed() {
			t.Logf("fleetwatch log (last 200 lines):\n%s", tail(s.Log(), 200))
		}
	})
	deadline := time.Now().Add(o.ReadyTimeout)
	for {
		if s.Exited() {
			t.Fatalf("fleetwatch exited while starting (%v):\n%s", s.Cmd.ProcessState, s.Log())
		}
		resp, err := http.Get(s.Base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleetwatch not ready after %v (last: %v):\n%s", o.ReadyTimeout, err, tail(s.Log(), 50))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits up to grace before SIGKILL.
func (s *Server) Stop(grace time.Duration) {
	if s.Exited() {
		return
	}
	_ = s.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(grace):
		_ = s.Cmd.Process.Kill()
		<-s.done
	}
}

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Log is everything the process wrote so far.
func (s *Server) Log() string { return s.log.String() }

// PID is the process id.
func (s *Server) PID() int { return s.Cmd.Process.Pid }

// Proc is what /proc says about the process.
type Proc struct {
	RSSBytes int64
	Threads  int
	FDs      int
}

// Proc reads /proc/<pid>/status and /proc/<pid>/fd.
func (s *Server) Proc() (Proc, error) {
	var p Proc
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.PID()))
	if err != nil {
		return p, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			p.RSSBytes = n * 1024
		case "Threads":
			p.Threads = int(n)
		}
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.PID()))
	if err != nil {
		return p, err
	}
	p.FDs = len(ents)
	return p, nil
}

// Metrics scrapes /metrics (with an optional bearer token) and returns, per
// metric name, the sum of its series' values (counters, gauges, untyped;
// histograms and summaries give their sample count).
func (s *Server) Metrics(token string) (map[string]float64, error) {
	req, _ := http.NewRequest(http.MethodGet, s.Base+"/metrics", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: HTTP %d: %s", resp.StatusCode, firstLine(string(body)))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("/metrics: %w", err)
	}
	out := make(map[string]float64, len(fams))
	for name, f := range fams {
		var sum float64
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Untyped != nil:
				sum += m.Untyped.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			case m.Summary != nil:
				sum += float64(m.Summary.GetSampleCount())
			}
		}
		out[name] = sum
	}
	return out, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logBuffer keeps the process's output; it is written by the exec copier
// and read by the test at the same time. Beyond maxLog bytes the oldest
// half is dropped (a soak run at info level stays well below it).
type logBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	dropped int64
}

const maxLog = 64 << 20

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len()+len(p) > maxLog {
		half := l.b.Len() / 2
		l.dropped += int64(half)
		rest := append([]byte(nil), l.b.Bytes()[half:]...)
		l.b.Reset()
		l.b.Write(rest)
	}
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		return fmt.Sprintf("[%d bytes of older log dropped]\n%s", l.dropped, l.b.String())
	}
	return l.b.String()
}

package scrape

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/collectors"
)

func targetOf(srv *httptest.Server) collectors.Target {
	addr := strings.TrimPrefix(strings.TrimPrefix(srv.URL, "http://"), "https://")
	return collectors.Target{Job: "test", Address: addr}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestRequest checks what an exporter sees: the Accept header Prometheus
// sends, gzip asked for, the timeout in seconds, the params and the path.
func TestRequest(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("x 1\n"))
	}))
	defer srv.Close()

	cfg, err := ParseConfig([]byte("metrics_path: /snmp\nparams:\n  module: [if_mib]\n  auth: [public_v2]\n"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 7*time.Second)
	defer cancel()
	tg := targetOf(srv)
	tg.Params = map[string]string{"__param_target": "10.0.0.1", "__param_module": "cisco"}
	if err := c.Collect(ctx, tg, &recorder{}); err != nil {
		t.Fatal(err)
	}
	if got == nil {
		t.Fatal("exporter saw no request")
	}
	if got.Method != http.MethodGet || got.URL.Path != "/snmp" {
		t.Errorf("request %s %s, want GET /snmp", got.Method, got.URL.Path)
	}
	q := got.URL.Query()
	if q.Get("module") != "cisco" || q.Get("auth") != "public_v2" || q.Get("target") != "10.0.0.1" {
		t.Errorf("query %q: want module=cisco (target overrides job), auth=public_v2, target=10.0.0.1", got.URL.RawQuery)
	}
	if a := got.Header.Get("Accept"); a != AcceptHeader || !strings.HasPrefix(a, "application/openmetrics-text;version=1.0.0") ||
		!strings.Contains(a, "text/plain;version=0.0.4") {
		t.Errorf("Accept = %q", a)
	}
	if e := got.Header.Get("Accept-Encoding"); e != "gzip" {
		t.Errorf("Accept-Encoding = %q, want gzip", e)
	}
	secs, err := strconv.ParseFloat(got.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"), 64)
	if err != nil || secs <= 6 || secs > 7 {
		t.Errorf("X-Prometheus-Scrape-Timeout-Seconds = %q, want just under 7", got.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"))
	}
	if ua := got.Header.Get("User-Agent"); !strings.HasPrefix(ua, "fleetwatch") {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestTargetURL(t *testing.T) {
	c, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		target  collectors.Target
		want    string
		wantErr string
	}{
		{"default", collectors.Target{Address: "h:9100"}, "http://h:9100/metrics", ""},
		{"ipv6", collectors.Target{Address: "[::1]:9100"}, "http://[::1]:9100/metrics", ""},
		{"overrides", collectors.Target{Address: "h:1", Params: map[string]string{
			"__scheme__": "https", "__metrics_path__": "/probe", "__param_target": "a b"}}, "https://h:1/probe?target=a+b", ""},
		{"url as address", collectors.Target{Address: "http://h:9100"}, "", "must be host:port"},
		{"user in address", collectors.Target{Address: "u@h:9100"}, "", "must be host:port"},
		{"empty", collectors.Target{}, "", "empty address"},
		{"bad scheme", collectors.Target{Address: "h:1", Params: map[string]string{"__scheme__": "ftp"}}, "", "__scheme__"},
		{"bad path", collectors.Target{Address: "h:1", Params: map[string]string{"__metrics_path__": "x"}}, "", "__metrics_path__"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := c.URL(tc.target)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.String() != tc.want {
				t.Errorf("URL = %s, want %s", u, tc.want)
			}
		})
	}
}

// TestAuthAndTLS scrapes an https exporter that wants basic auth or a bearer
// token, with the CA and the secrets read from files, and checks that no
// secret appears in an error or a log line.
func TestAuthAndTLS(t *testing.T) {
	const password, token = "s3cr3t-pa55", "t0k3n-abc"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		okBasic := ok && u == "prom" && p == password
		okBearer := r.Header.Get("Authorization") == "Bearer "+token
		if !okBasic && !okBearer {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("secured 1\n"))
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the unknown-CA case makes the server log a handshake error
	srv.StartTLS()
	defer srv.Close()
	ca := writeFile(t, "ca.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})))
	goodPass := writeFile(t, "pass", password+"\n")
	badPass := writeFile(t, "bad", "wrong-"+password)
	tokenFile := writeFile(t, "token", token)

	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		wantErr error
	}{
		{"basic auth", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "prom", PasswordFile: goodPass} }, nil},
		{"bearer token", func(c *Config) { c.BearerTokenFile = tokenFile }, nil},
		{"wrong password", func(c *Config) { c.BasicAuth = &BasicAuth{Username: "prom", PasswordFile: badPass} }, ErrHTTPStatus},
		{"no credentials", func(*Config) {}, ErrHTTPStatus},
		{"unknown CA", func(c *Config) {
			c.TLSConfig.CAFile = ""
			c.BearerTokenFile = tokenFile
		}, nil /* any error */},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Scheme = "https"
			cfg.TLSConfig = TLSConfig{CAFile: ca, ServerName: "example.com"}
			tc.cfg(&cfg)
			var logs bytes.Buffer
			c, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
			if err != nil {
				t.Fatal(err)
			}
			var rec recorder
			err = c.Collect(t.Context(), targetOf(srv), &rec)
			switch {
			case tc.name == "unknown CA":
				if err == nil || !strings.Contains(err.Error(), "certificate") {
					t.Fatalf("err = %v, want a certificate error", err)
				}
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "401") {
					t.Fatalf("err = %v, want %v with 401", err, tc.wantErr)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if len(rec.samples) != 1 || rec.samples[0].ls.Get("__name__") != "secured" {
					t.Fatalf("samples = %v", rec.lines)
				}
			}
			for _, secret := range []string{password, token} {
				if err != nil && strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret: %v", err)
				}
				if strings.Contains(logs.String(), secret) {
					t.Errorf("log shows a secret: %s", logs.String())
				}
			}
		})
	}
}

// TestTimeout: an exporter slower than the collection's deadline fails the
// collection with reason timeout, in about the deadline.
func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	reg := prometheus.NewPedanticRegistry()
	c, err := New(DefaultConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = c.Collect(ctx, targetOf(srv), &recorder{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if !strings.Contains(err.Error(), srv.URL+"/metrics") {
		t.Errorf("err = %v, want it to name the target", err)
	}
	if got := errorReasons(t, reg); len(got) != 1 || got[0] != "timeout=1" {
		t.Errorf("error reasons = %v, want [timeout=1]", got)
	}
}

// TestConnectionRefused: a target nobody listens on fails with reason request.
func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	tg := targetOf(srv)
	srv.Close()
	reg := prometheus.NewPedanticRegistry()
	c, err := New(DefaultConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Collect(t.Context(), tg, &recorder{})
	if err == nil || !strings.Contains(err.Error(), tg.Address) {
		t.Fatalf("err = %v, want a refused connection naming %s", err, tg.Address)
	}
	if got := errorReasons(t, reg); len(got) != 1 || got[0] != "request=1" {
		t.Errorf("error reasons = %v, want [request=1]", got)
	}
}

// TestSharedRegisterer: two jobs' Collectors register on one registry and
// count separately by job.
func TestSharedRegisterer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		_, _ = w.Write([]byte("a 1\nb 2\n"))
	}))
	defer srv.Close()
	reg := prometheus.NewPedanticRegistry()
	for _, job := range []string{"node", "apps"} {
		c, err := New(DefaultConfig(), nil, reg)
		if err != nil {
			t.Fatalf("job %s: %v", job, err)
		}
		tg := targetOf(srv)
		tg.Job = job
		if err := c.Collect(t.Context(), tg, &recorder{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(t, reg, "fleetwatch_scrape_samples_total"); got != 4 {
		t.Errorf("fleetwatch_scrape_samples_total = %v, want 4", got)
	}
	if got := counterValue(t, reg, "fleetwatch_scrape_bytes_total"); got != 16 {
		t.Errorf("fleetwatch_scrape_bytes_total = %v, want 16 (8 bytes per collection)", got)
	}
}

// TestConcurrentTargets collects several targets at once through one
// Collector (run with -race).
func TestConcurrentTargets(t *testing.T) {
	var bodies []*httptest.Server
	for i := range 4 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			for j := range 100 * (i + 1) {
				_, _ = w.Write([]byte("m{i=\"" + strconv.Itoa(j) + "\"} " + strconv.Itoa(i) + "\n"))
			}
		}))
		defer srv.Close()
		bodies = append(bodies, srv)
	}
	c, err := New(DefaultConfig(), nil, prometheus.NewPedanticRegistry())
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 40)
	for range 10 {
		for i, srv := range bodies {
			go func() {
				var rec recorder
				err := c.Collect(t.Context(), targetOf(srv), &rec)
				if err == nil && len(rec.samples) != 100*(i+1) {
					err = errors.New("target " + srv.URL + ": got " + strconv.Itoa(len(rec.samples)) + " samples")
				}
				for _, s := range rec.samples {
					if s.v != float64(i) {
						err = errors.New("target " + srv.URL + ": sample from another target: " + s.ls.String())
						break
					}
				}
				errs <- err
			}()
		}
	}
	for range 40 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

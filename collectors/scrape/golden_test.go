package scrape

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
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

var update = flag.Bool("update", false, "rewrite the expected.prom golden files")

// goldenCase is one folder of testdata: an exposition (input.txt, text format,
// or input.om, OpenMetrics), optional response headers (headers: "Key: Value"
// lines, "Status: N" sets the status, an empty value sends the header empty),
// an optional job config (config.yml) and what Collect produced (expected.prom).
type goldenCase struct {
	dir, input, contentType string
}

func goldenCases(t *testing.T) []goldenCase {
	t.Helper()
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		dir := filepath.Join("testdata", d.Name())
		for _, in := range []struct{ name, ct string }{
			{"input.txt", "text/plain; version=0.0.4; charset=utf-8"},
			{"input.om", "application/openmetrics-text; version=1.0.0; charset=utf-8"},
		} {
			if _, err := os.Stat(filepath.Join(dir, in.name)); err == nil {
				cases = append(cases, goldenCase{dir: dir, input: in.name, contentType: in.ct})
			}
		}
	}
	if len(cases) < 20 {
		t.Fatalf("found only %d golden cases under testdata", len(cases))
	}
	return cases
}

// serveCase answers every request with the case's input and headers,
// gzip-compressed when the request asks for it and the headers do not set a
// Content-Encoding.
func serveCase(t *testing.T, gc goldenCase) *httptest.Server {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(gc.dir, gc.input))
	if err != nil {
		t.Fatal(err)
	}
	status := http.StatusOK
	hdr := http.Header{"Content-Type": {gc.contentType}}
	if raw, err := os.ReadFile(filepath.Join(gc.dir, "headers")); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				t.Fatalf("%s/headers: %q is not Key: Value", gc.dir, sc.Text())
			}
			v = strings.TrimSpace(v)
			if k == "Status" {
				if status, err = strconv.Atoi(v); err != nil {
					t.Fatalf("%s/headers: status %q: %v", gc.dir, v, err)
				}
				continue
			}
			if v == "" {
				hdr[http.CanonicalHeaderKey(k)] = nil // no header, no sniffing
				continue
			}
			hdr.Set(k, v)
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range hdr {
			w.Header()[k] = v
		}
		out := body
		if hdr.Get("Content-Encoding") == "" && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			var zb bytes.Buffer
			zw := gzip.NewWriter(&zb)
			_, _ = zw.Write(body)
			_ = zw.Close()
			out = zb.Bytes()
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.WriteHeader(status)
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestGolden scrapes every testdata case from an HTTP server and compares the
// appender's calls, the error and the counted error reason with expected.prom.
func TestGolden(t *testing.T) {
	for _, gc := range goldenCases(t) {
		t.Run(filepath.Base(gc.dir), func(t *testing.T) {
			cfg := DefaultConfig()
			if raw, err := os.ReadFile(filepath.Join(gc.dir, "config.yml")); err == nil {
				if cfg, err = ParseConfig(raw); err != nil {
					t.Fatalf("%s/config.yml: %v", gc.dir, err)
				}
			}
			srv := serveCase(t, gc)
			reg := prometheus.NewPedanticRegistry()
			c, err := New(cfg, nil, reg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var rec recorder
			target := collectors.Target{Job: "golden", Address: strings.TrimPrefix(srv.URL, "http://")}
			collectErr := c.Collect(ctx, target, &rec)

			lines := rec.lines
			if collectErr != nil {
				msg := strings.ReplaceAll(collectErr.Error(), srv.URL, "http://TARGET")
				lines = append(lines, "# error: "+msg)
			}
			if n := counterValue(t, reg, "fleetwatch_scrape_duplicate_samples_total"); n > 0 {
				lines = append(lines, "# duplicates_dropped: "+strconv.FormatFloat(n, 'g', -1, 64))
			}
			for _, r := range errorReasons(t, reg) {
				lines = append(lines, "# error_reason: "+r)
			}
			got := joinLines(lines)
			golden := filepath.Join(gc.dir, "expected.prom")
			if *update {
				if (collectErr != nil) != strings.HasPrefix(filepath.Base(gc.dir), "error_") {
					t.Errorf("error = %v; the cases named error_* and only they must fail", collectErr)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("Collect of %s differs from %s\n--- got\n%s--- want\n%s", gc.input, golden, got, want)
			}
			if (collectErr != nil) != strings.HasPrefix(filepath.Base(gc.dir), "error_") {
				t.Errorf("error = %v; the cases named error_* and only they must fail", collectErr)
			}
		})
	}
}

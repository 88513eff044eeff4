package hostile

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rawGet sends path exactly as given (no client-side cleaning or
// escaping) and follows up to five redirects the same way. It returns the
// final status, body and the chain of paths asked.
func rawGet(t *testing.T, addr, token, path string) (int, []byte, []string) {
	t.Helper()
	var chain []string
	for range 6 {
		chain = append(chain, path)
		conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: close\r\n\r\n", path, addr, token)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			conn.Close()
			return 0, []byte(err.Error()), chain
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		conn.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode > 399 || loc == "" {
			return resp.StatusCode, body, chain
		}
		u, err := url.Parse(loc)
		if err != nil {
			return resp.StatusCode, body, chain
		}
		if u.Host != "" && u.Host != addr {
			t.Errorf("GET %s redirects off the server to %s", chain[0], loc)
			return resp.StatusCode, body, chain
		}
		path = u.RequestURI()
	}
	return 0, nil, chain
}

// TestPathTraversal asks every route that takes a path or an id for files
// outside the embedded assets — /etc/passwd, the config, the tokens file,
// the alert store, a canary in the working directory — by every encoding
// of "..", by NULs and by absolute paths. None of their content is ever
// served, whatever the status.
func TestPathTraversal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, _ := startPlain(t)
	canary := "canary-" + fmt.Sprint(time.Now().UnixNano())
	canaryFile := write(t, srv.Dir, "canary.txt", canary)
	// The content that must never come back.
	forbidden := map[string]string{
		"/etc/passwd":        "root:x:0:0",
		"canary.txt":         canary,
		"tokens.yml":         writeToken,
		"fleetwatch.yml":     "tokens_file: tokens.yml",
		"data/alerter.db":    "SQLite format 3",
		"/proc/self/environ": "PATH=",
	}
	if b, err := os.ReadFile("/etc/passwd"); err != nil || !strings.Contains(string(b), "root:x:0:0") {
		delete(forbidden, "/etc/passwd")
	}
	targets := []string{"etc/passwd", "canary.txt", "tokens.yml", "fleetwatch.yml", "data/alerter.db", "proc/self/environ"}
	absolute := []string{"/etc/passwd", canaryFile, filepath.Join(srv.Dir, "tokens.yml"), "/proc/self/environ"}
	var payloads []string
	for _, tg := range targets {
		for _, up := range []string{"../", "..%2f", "..%2F", "%2e%2e/", "%2e%2e%2f", "..%5c", "%252e%252e%252f", "....//", "..;/", ".%2e/", "%c0%ae%c0%ae/"} {
			for _, depth := range []int{1, 8} {
				p := strings.Repeat(up, depth) + tg
				if strings.Contains(up, "5c") {
					p = strings.ReplaceAll(p, "/", "%5c")
				}
				payloads = append(payloads, p)
			}
		}
		payloads = append(payloads, tg, tg+"%00", tg+"%00.css", "%00/../"+tg)
	}
	for _, a := range absolute {
		payloads = append(payloads, a, strings.ReplaceAll(url.PathEscape(a), "%2F", "%2f"), "/"+a, "%2f"+strings.TrimPrefix(url.PathEscape(a), "%2F"))
	}
	prefixes := []string{
		"/static/", "/static/x/", "/incidents/", "/api/v1/incidents/", "/api/v2/silence/",
		"/api/v1/label/", "/debug/pprof/", "/",
	}
	suffixes := map[string]string{"/api/v1/incidents/": "/postmortem?format=md", "/api/v1/label/": "/values"}
	served := 0
	for _, pre := range prefixes {
		for _, p := range payloads {
			path := pre + strings.TrimPrefix(p, "/") + suffixes[pre]
			if strings.HasPrefix(p, "/") && pre == "/" {
				path = p
			}
			code, body, chain := rawGet(t, srv.Addr, writeToken, path)
			if code == http.StatusOK {
				served++
			}
			for what, needle := range forbidden {
				if strings.Contains(string(body), needle) {
					t.Errorf("GET %s (via %v): %d, the content of %s is served", path, chain, code, what)
				}
			}
			if code >= 500 || code == 0 {
				t.Errorf("GET %s: status %d %s", path, code, clip(body))
			}
		}
		if srv.Exited() {
			t.Fatal("fleetwatch exited")
		}
	}
	t.Logf("%d traversal requests answered 200 (with harmless content)", served)
	// The assets themselves are still served.
	for _, p := range []string{"/static/style.css", "/static/app.js"} {
		if code, _, _ := rawGet(t, srv.Addr, writeToken, p); code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code)
		}
	}
}

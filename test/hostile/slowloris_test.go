package hostile

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowConns opens n connections that send a request one byte a second
// (the request line and headers when body is false; complete headers and
// then a body that never ends when body is true). It returns, per
// connection, when the server closed it (zero: still open) once hold has
// passed.
func slowConns(t *testing.T, addr string, n int, hold time.Duration, body bool) []time.Duration {
	t.Helper()
	start := time.Now()
	closed := make([]time.Duration, n)
	var wg sync.WaitGroup
	var dialFailed atomic.Int32
	for i := range n {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			dialFailed.Add(1)
			continue
		}
		wg.Add(2)
		// The server's side: a read returns when it answers or closes.
		go func() {
			defer wg.Done()
			_ = conn.SetReadDeadline(start.Add(hold))
			_, err := io.Copy(io.Discard, conn)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return // still open when the hold ended
			}
			closed[i] = time.Since(start)
		}()
		// The client's side: a byte a second until the hold ends or the
		// server hangs up.
		go func() {
			defer wg.Done()
			defer conn.Close()
			var msg string
			if body {
				msg = fmt.Sprintf("POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", writeToken)
				if _, err := conn.Write([]byte(msg)); err != nil {
					return
				}
				msg = "[" + string(make([]byte, 100000))
			} else {
				msg = "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Slow: " + string(make([]byte, 1000))
			}
			for j := 0; time.Since(start) < hold && j < len(msg); j++ {
				if _, err := conn.Write([]byte{msg[j] | ' '}); err != nil {
					return
				}
				time.Sleep(time.Second)
			}
		}()
	}
	if f := dialFailed.Load(); f > 0 {
		t.Errorf("%d of %d connections could not be opened", f, n)
	}
	wg.Wait()
	return closed
}

// normalClient asks /-/healthy and the incidents API every 200 ms until
// stop and counts the answers that failed. Its timeout, 5 s, is half the
// server's ReadHeaderTimeout: a server that stopped accepting or handling
// requests while the slow connections are open fails it.
func normalClient(c *client, stop <-chan struct{}) (ok, failed int, lastErr string) {
	hc := &http.Client{Timeout: 5 * time.Second}
	nc := &client{base: c.base, token: c.token, hc: hc}
	for {
		select {
		case <-stop:
			return
		case <-time.After(200 * time.Millisecond):
		}
		for _, p := range []string{"/-/healthy", "/api/v1/incidents"} {
			code, b := nc.do(http.MethodGet, p, "", nil)
			if code == http.StatusOK {
				ok++
			} else {
				failed++
				lastErr = fmt.Sprintf("GET %s: %d %s", p, code, clip(b))
			}
		}
	}
}

// TestSlowloris holds 200 connections that send their headers a byte a
// second. A normal client keeps being served while they are open, and the
// server closes every one of them by ReadHeaderTimeout (10 s); the test
// waits 15 s, so a server without the timeout fails it.
func TestSlowloris(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	srv, c := startPlain(t)
	p0, _ := srv.Proc()
	stop := make(chan struct{})
	type result struct {
		ok, failed int
		last       string
	}
	done := make(chan result)
	go func() {
		ok, failed, last := normalClient(c, stop)
		done <- result{ok, failed, last}
	}()
	closed := slowConns(t, srv.Addr, 200, 15*time.Second, false)
	close(stop)
	r := <-done
	open := 0
	var latest time.Duration
	for _, d := range closed {
		if d == 0 {
			open++
		}
		latest = max(latest, d)
	}
	p1, _ := srv.Proc()
	t.Logf("normal client: %d answered, %d failed; slow connections still open after 15 s: %d; last closed at %v; fds %d → %d",
		r.ok, r.failed, open, latest.Round(100*time.Millisecond), p0.FDs, p1.FDs)
	if r.failed > 0 || r.ok == 0 {
		t.Errorf("the normal client was not served while the slow connections were open: %d failed (%s)", r.failed, r.last)
	}
	if open > 0 {
		t.Errorf("%d of 200 slow-header connections still open after 15 s (ReadHeaderTimeout is 10 s)", open)
	}
}

// TestSlowBody does the same with complete headers and a body sent a byte
// a second. fleetwatch must keep serving others and must not hold such a
// connection for ever: every one is closed within 40 s. (No body fleetwatch
// takes needs longer on a datacenter network; the proposed bound is
// http.Server.ReadTimeout = 30 s, Prometheus' --web.read-timeout idea.)
func TestSlowBody(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	srv, c := startPlain(t)
	stop := make(chan struct{})
	type result struct {
		ok, failed int
		last       string
	}
	done := make(chan result)
	go func() {
		ok, failed, last := normalClient(c, stop)
		done <- result{ok, failed, last}
	}()
	const n = 50
	closed := slowConns(t, srv.Addr, n, 40*time.Second, true)
	close(stop)
	r := <-done
	if r.failed > 0 || r.ok == 0 {
		t.Errorf("the normal client was not served while the slow bodies arrived: %d failed (%s)", r.failed, r.last)
	}
	open := 0
	for _, d := range closed {
		if d == 0 {
			open++
		}
	}
	t.Logf("slow-body connections still open after 40 s: %d of %d", open, n)
	if open > 0 {
		t.Errorf("%d of %d slow-body connections still held after 40 s: the server has no read timeout", open, n)
	}
}

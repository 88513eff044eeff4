package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

// TestRequestBodies sends each kind of message to the local Events API and
// compares the exact bodies PagerDuty receives with the golden files.
func TestRequestBodies(t *testing.T) {
	long := rackMessage(notify.ActionTrigger)
	long.Summary = strings.Repeat("rack R12 ünreachable; ", 60)
	bare := notify.Message{IncidentID: "inc-2", Action: notify.ActionTrigger, Severity: "page", Class: "DiskFull"}
	escalated := rackMessage(notify.ActionTrigger)
	escalated.PreviousSeverity = "warning"
	change := notify.Message{
		IncidentID: "01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Action: notify.ActionChange, Source: "fleetwatch",
		Summary:   "remediation drain-host on r12-s01: succeeded",
		Timestamp: t0, Details: map[string]string{"action": "drain-host", "outcome": "succeeded"},
		Links: []notify.Link{{Href: "https://fleetwatch.example/incidents/01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Text: "Incident"}},
	}
	many := rackMessage(notify.ActionTrigger)
	many.TruncatedAlerts = 35

	for _, tc := range []struct {
		name string
		msg  notify.Message
		edit func(*Config)
	}{
		{"trigger", rackMessage(notify.ActionTrigger), nil},
		{"acknowledge", rackMessage(notify.ActionAcknowledge), nil},
		{"resolve", rackMessage(notify.ActionResolve), nil},
		{"change", change, nil},
		{"trigger_long_summary", long, nil},
		{"trigger_defaults", bare, nil},
		{"trigger_severity_map", bare, func(c *Config) { c.SeverityMap = map[string]string{"page": "critical"} }},
		{"trigger_max_alerts", many, func(c *Config) { c.MaxAlerts = 1; c.Client = "fleetwatch-dc1"; c.ClientURL = "https://fw.dc1.example" }},
		{"trigger_escalation_repage", escalated, func(c *Config) { c.RepageOnEscalation = true }},
		{"trigger_escalation_no_repage", escalated, nil},
		{"resolve_repage", rackMessage(notify.ActionResolve), func(c *Config) { c.RepageOnEscalation = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n, _ := newServerNotifier(t, tc.edit)
			if retry, err := n.Notify(context.Background(), tc.msg); err != nil {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
			var got bytes.Buffer
			for _, e := range srv.Events() {
				if e.Status != http.StatusAccepted {
					t.Errorf("%s refused (%d): %s", e.Path, e.Status, e.Body)
				}
				var v any
				if err := json.Unmarshal(e.Body, &v); err != nil {
					t.Fatal(err)
				}
				b, _ := json.MarshalIndent(map[string]any{"path": e.Path, "body": v}, "", "  ")
				got.Write(b)
				got.WriteByte('\n')
			}
			golden := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("body differs from %s:\n%s", golden, got.Bytes())
			}
		})
	}
}

// TestSummaryLimit checks the summary PagerDuty receives never exceeds its
// limit and ends cleanly.
func TestSummaryLimit(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     int // bytes
	}{
		{"short", "NodeDown r12-s01", 16},
		{"exact", strings.Repeat("a", 1024), 1024},
		{"ascii", strings.Repeat("a", 2000), 1024},
		{"multibyte", strings.Repeat("ü", 1000), 1023},
		{"emoji", strings.Repeat("🔥", 400), 1023},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Truncate(tc.in, MaxSummary)
			if len(got) != tc.want {
				t.Errorf("len = %d, want %d", len(got), tc.want)
			}
			if len(tc.in) > MaxSummary && !strings.HasSuffix(got, "…") {
				t.Errorf("cut summary does not end with …: %q", got[len(got)-8:])
			}
			if !json.Valid([]byte(`"`+got+`"`)) || !strings.HasPrefix(tc.in, strings.TrimSuffix(got, "…")) {
				t.Errorf("truncated summary is not a clean prefix")
			}
		})
	}
}

// TestPages follows one incident through PagerDuty's states: a second
// trigger for the same incident updates the alert without a second page.
func TestPages(t *testing.T) {
	srv, n, _ := newServerNotifier(t, nil)
	ctx := context.Background()
	m := rackMessage(notify.ActionTrigger)
	steps := []struct {
		action, state string
		pages         int
	}{
		{notify.ActionTrigger, "triggered", 1},
		{notify.ActionTrigger, "triggered", 1}, // a new alert joined
		{notify.ActionAcknowledge, "acknowledged", 1},
		{notify.ActionTrigger, "acknowledged", 1}, // still acknowledged, no page
		{notify.ActionResolve, "resolved", 1},
	}
	for i, s := range steps {
		m.Action = s.action
		if _, err := n.Notify(ctx, m); err != nil {
			t.Fatalf("step %d %s: %v", i, s.action, err)
		}
		a, ok := srv.Alert(m.IncidentID)
		if !ok || a.State != s.state || srv.Pages() != s.pages {
			t.Errorf("after step %d %s: alert %+v, pages %d; want state %s, %d pages", i, s.action, a, srv.Pages(), s.state, s.pages)
		}
	}
}

// TestRepageOnEscalation: an escalation pages again only when configured,
// and the resolve closes every alert it opened.
func TestRepageOnEscalation(t *testing.T) {
	for _, tc := range []struct {
		repage bool
		pages  int
	}{{false, 1}, {true, 2}} {
		t.Run(map[bool]string{false: "off", true: "on"}[tc.repage], func(t *testing.T) {
			srv, n, _ := newServerNotifier(t, func(c *Config) { c.RepageOnEscalation = tc.repage })
			ctx := context.Background()
			m := rackMessage(notify.ActionTrigger)
			m.Severity = "warning"
			if _, err := n.Notify(ctx, m); err != nil {
				t.Fatal(err)
			}
			m.Severity, m.PreviousSeverity = "critical", "warning"
			if _, err := n.Notify(ctx, m); err != nil {
				t.Fatal(err)
			}
			if got := srv.Pages(); got != tc.pages {
				t.Errorf("pages after escalation = %d, want %d", got, tc.pages)
			}
			m.Action, m.PreviousSeverity = notify.ActionResolve, ""
			if _, err := n.Notify(ctx, m); err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{m.IncidentID, m.IncidentID + "/critical"} {
				if a, ok := srv.Alert(key); ok && a.State != "resolved" {
					t.Errorf("alert %s left %s after the resolve", key, a.State)
				}
			}
		})
	}
}

// TestRetryClassification checks which failures the outbox retries, and
// that PagerDuty's Retry-After reaches the worker.
func TestRetryClassification(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		retryAfter string
		retry      bool
		wait       time.Duration
		errHas     string
	}{
		{"rate limited", 429, "7", true, 7 * time.Second, "throttle event"},
		{"rate limited no header", 429, "", true, 0, "HTTP 429"},
		{"server error", 500, "", true, 0, "HTTP 500"},
		{"unavailable with date", 503, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat), true, 59 * time.Minute, "HTTP 503"},
		{"bad request", 400, "", false, 0, "invalid event"},
		{"forbidden", 403, "", false, 0, "HTTP 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n, _ := newServerNotifier(t, nil)
			srv.FailNext(1, tc.status, tc.retryAfter)
			retry, err := n.Notify(context.Background(), rackMessage(notify.ActionTrigger))
			if err == nil {
				t.Fatal("no error")
			}
			if retry != tc.retry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tc.retry, err)
			}
			if got := notify.RetryAfter(err); got < tc.wait || (tc.wait == 0 && got != 0) || got > tc.wait+2*time.Minute {
				t.Errorf("RetryAfter = %s, want about %s", got, tc.wait)
			}
			if !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "01JPA9ZK7QF3M6V2W8X4Y5Z0AB") {
				t.Errorf("error %q does not say %q and name the incident", err, tc.errHas)
			}
			// The next attempt goes through, as the outbox's would.
			if _, err := n.Notify(context.Background(), rackMessage(notify.ActionTrigger)); err != nil {
				t.Errorf("second attempt: %v", err)
			}
		})
	}
	t.Run("refused by validation", func(t *testing.T) {
		_, n, _ := newServerNotifier(t, nil)
		m := rackMessage(notify.ActionTrigger)
		m.Action = "page"
		retry, err := n.Notify(context.Background(), m)
		if err == nil || retry {
			t.Errorf("unknown action: retry=%v err=%v, want a permanent error", retry, err)
		}
	})
	t.Run("connection refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		n, _ := newNotifier(t, "http://"+addr+"/v2/enqueue", nil)
		retry, err := n.Notify(context.Background(), rackMessage(notify.ActionTrigger))
		if err == nil || !retry {
			t.Errorf("retry=%v err=%v, want a retryable error", retry, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		defer slow.Close()
		defer close(release)
		n, _ := newNotifier(t, slow.URL+"/v2/enqueue", func(c *Config) { c.Timeout = 50 * time.Millisecond })
		retry, err := n.Notify(context.Background(), rackMessage(notify.ActionTrigger))
		if err == nil || !retry || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("retry=%v err=%v, want a retryable deadline error", retry, err)
		}
	})
}

// TestRateLimit: beyond rate_limit_per_minute the notifier returns the
// message for retry with a wait instead of sending it into a 429.
func TestRateLimit(t *testing.T) {
	srv, n, _ := newServerNotifier(t, func(c *Config) { c.RateLimitPerMinute = 2 })
	ctx := context.Background()
	for i := range 2 {
		if _, err := n.Notify(ctx, rackMessage(notify.ActionTrigger)); err != nil {
			t.Fatalf("notification %d: %v", i, err)
		}
	}
	retry, err := n.Notify(ctx, rackMessage(notify.ActionTrigger))
	if err == nil || !retry || notify.RetryAfter(err) <= 0 {
		t.Errorf("third notification: retry=%v err=%v wait=%s, want a retry with a wait", retry, err, notify.RetryAfter(err))
	}
	if got := len(srv.Events()); got != 2 {
		t.Errorf("server received %d requests, want 2", got)
	}
}

// TestSkips: actions turned off are not sent and not errors.
func TestSkips(t *testing.T) {
	srv, n, _ := newServerNotifier(t, func(c *Config) {
		c.SendResolved, c.SendAcknowledged, c.SendChanges = false, false, false
	})
	for _, a := range []string{notify.ActionResolve, notify.ActionAcknowledge, notify.ActionChange} {
		if retry, err := n.Notify(context.Background(), rackMessage(a)); err != nil || retry {
			t.Errorf("%s: retry=%v err=%v", a, retry, err)
		}
	}
	if got := len(srv.Events()); got != 0 {
		t.Errorf("server received %d requests, want 0", got)
	}
}

// TestNoSecretLeak: the routing key never appears in an error or a log
// line, even when the endpoint echoes it back.
func TestNoSecretLeak(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		status := http.StatusBadRequest
		if strings.Contains(r.URL.RawQuery, "500") {
			status = 500
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "bad key", "errors": []string{body.String()}})
	}))
	defer echo.Close()
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body bytes.Buffer
		_, _ = body.ReadFrom(r.Body)
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write(body.Bytes())
	}))
	defer plain.Close()

	for _, url := range []string{echo.URL + "/v2/enqueue", plain.URL + "/v2/enqueue", "http://127.0.0.1:1/v2/enqueue"} {
		n, logs := newNotifier(t, url, nil)
		for _, action := range []string{notify.ActionTrigger, notify.ActionResolve, notify.ActionChange} {
			_, err := n.Notify(context.Background(), rackMessage(action))
			if err == nil {
				t.Fatalf("%s %s: no error", url, action)
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("%s %s: routing key in error: %v", url, action, err)
			}
		}
		if strings.Contains(logs.String(), testKey) {
			t.Errorf("routing key in logs: %s", logs)
		}
	}
	// Config errors name the file, never the key.
	cfg := DefaultConfig()
	cfg.RoutingKeyFile = writeFile(t, "short", "s3cr3t-short-key")
	err := cfg.Validate()
	if err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("validate: %v", err)
	}
}

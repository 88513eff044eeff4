package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amwebhook "github.com/prometheus/alertmanager/notify/webhook"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

var update = flag.Bool("update", false, "rewrite the golden bodies under testdata/")

// token is part of the webhook URL; tests look for it in errors and logs.
const token = "hooktoken-s3cr3t-42"

type request struct {
	header http.Header
	body   []byte
}

// sink is an endpoint recording what it receives and answering status.
type sink struct {
	mu       sync.Mutex
	requests []request
	status   int
	header   http.Header
	body     string
	srv      *httptest.Server
}

func newSink(t *testing.T) *sink {
	s := &sink{status: http.StatusOK}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.requests = append(s.requests, request{r.Header.Clone(), b})
		for k, v := range s.header {
			w.Header()[k] = v
		}
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, s.body)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) got() []request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]request(nil), s.requests...)
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newNotifier(t *testing.T, url string, edit func(*Config)) (*Notifier, *bytes.Buffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URLFile = writeFile(t, "url", url+"\n")
	if edit != nil {
		edit(&cfg)
	}
	var logs bytes.Buffer
	n, err := New(cfg, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, &logs
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func message(action string) notify.Message {
	alert := func(status, host, fp string) notify.Alert {
		a := notify.Alert{
			Status:       status,
			Labels:       map[string]string{"alertname": "NodeUnreachable", "instance": host, "rack": "R12"},
			Annotations:  map[string]string{"summary": host + " does not answer"},
			StartsAt:     t0.Add(-2 * time.Minute),
			GeneratorURL: "http://prometheus.example/graph?g0.expr=up%3D%3D0",
			Fingerprint:  fp,
		}
		if status == "resolved" {
			a.EndsAt = t0
		}
		return a
	}
	status := "firing"
	if action == notify.ActionResolve {
		status = "resolved"
	}
	return notify.Message{
		IncidentID: "01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Action: action, Status: status,
		Summary: "[FIRING:2] NodeUnreachable rack=R12", Severity: "critical", Receiver: "ops-hooks",
		GroupKey:          `{}/{severity="critical"}:{rack="R12"}`,
		GroupLabels:       map[string]string{"rack": "R12"},
		CommonLabels:      map[string]string{"alertname": "NodeUnreachable", "rack": "R12"},
		CommonAnnotations: map[string]string{},
		Alerts: []notify.Alert{
			alert(status, "r12-s01", "a1b2c3d4e5f60718"),
			alert("resolved", "r12-s02", "b1b2c3d4e5f60718"),
		},
		ExternalURL: "https://fleetwatch.example",
		Timestamp:   t0,
	}
}

// TestBodies compares the exact bodies with the golden files, and checks
// what Alertmanager's own webhook Message type reads from them.
func TestBodies(t *testing.T) {
	bare := notify.Message{IncidentID: "x", Action: notify.ActionTrigger, Receiver: "r"}
	truncated := message(notify.ActionTrigger)
	truncated.TruncatedAlerts = 10
	for _, tc := range []struct {
		name      string
		msg       notify.Message
		maxAlerts int
	}{
		{"firing", message(notify.ActionTrigger), 0},
		{"resolved", message(notify.ActionResolve), 0},
		{"max_alerts", truncated, 1},
		{"empty", bare, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t)
			n, _ := newNotifier(t, s.srv.URL+"/hook/"+token, func(c *Config) { c.MaxAlerts = tc.maxAlerts })
			if _, err := n.Notify(context.Background(), tc.msg); err != nil {
				t.Fatal(err)
			}
			reqs := s.got()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			body := reqs[0].body
			if ct := reqs[0].header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, body, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("body differs from %s:\n%s", golden, pretty.Bytes())
			}

			// An existing consumer decodes it with Alertmanager's type.
			var am amwebhook.Message
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&am); err != nil {
				t.Fatalf("alertmanager's webhook.Message: %v", err)
			}
			if am.Version != "4" || am.GroupKey != tc.msg.GroupKey || am.Receiver != tc.msg.Receiver ||
				am.ExternalURL != tc.msg.ExternalURL || am.Data.GroupLabels == nil || am.Data.CommonLabels == nil {
				t.Errorf("alertmanager reads %+v / %+v", am, am.Data)
			}
			wantAlerts := len(tc.msg.Alerts)
			if tc.maxAlerts > 0 {
				wantAlerts = min(wantAlerts, tc.maxAlerts)
			}
			if len(am.Alerts) != wantAlerts || am.TruncatedAlerts != uint64(tc.msg.TruncatedAlerts+len(tc.msg.Alerts)-wantAlerts) {
				t.Errorf("alertmanager reads %d alerts, %d truncated", len(am.Alerts), am.TruncatedAlerts)
			}
			for i, a := range am.Alerts {
				src := tc.msg.Alerts[i]
				if a.Fingerprint != src.Fingerprint || a.Labels["instance"] != src.Labels["instance"] ||
					!a.StartsAt.Equal(src.StartsAt) || !a.EndsAt.Equal(src.EndsAt) || a.Status != src.Status {
					t.Errorf("alert %d reads %+v", i, a)
				}
			}
			if fs := am.Alerts.Firing(); tc.name == "firing" && len(fs) != 1 {
				t.Errorf("alertmanager counts %d firing alerts, want 1", len(fs))
			}
		})
	}
}

func TestHeadersAndSkips(t *testing.T) {
	s := newSink(t)
	auth := writeFile(t, "auth", "Bearer hdr-s3cr3t\n")
	n, _ := newNotifier(t, s.srv.URL, func(c *Config) {
		c.Headers = map[string]string{"X-Team": "storage"}
		c.HeaderFiles = map[string]string{"Authorization": auth}
		c.SendResolved = false
	})
	ctx := context.Background()
	for _, a := range []string{notify.ActionTrigger, notify.ActionAcknowledge, notify.ActionResolve, notify.ActionChange} {
		if retry, err := n.Notify(ctx, message(a)); err != nil || retry {
			t.Errorf("%s: retry=%v err=%v", a, retry, err)
		}
	}
	reqs := s.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want only the trigger", len(reqs))
	}
	h := reqs[0].header
	if h.Get("Authorization") != "Bearer hdr-s3cr3t" || h.Get("X-Team") != "storage" || h.Get("User-Agent") != "fleetwatch" {
		t.Errorf("headers %v", h)
	}
}

func TestRetryClassification(t *testing.T) {
	for _, tc := range []struct {
		status     int
		retryAfter string
		retry      bool
		wait       time.Duration
	}{
		{200, "", false, 0},
		{204, "", false, 0},
		{429, "30", true, 30 * time.Second},
		{500, "", true, 0},
		{502, "", true, 0},
		{503, "5", true, 5 * time.Second},
		{400, "", false, 0},
		{401, "", false, 0},
		{404, "", false, 0},
		{302, "", false, 0},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			s := newSink(t)
			s.status = tc.status
			s.body = "answer mentioning " + token
			s.header = http.Header{"Retry-After": {tc.retryAfter}, "Location": {"http://elsewhere.example/"}}
			n, logs := newNotifier(t, s.srv.URL+"/hook/"+token, nil)
			retry, err := n.Notify(context.Background(), message(notify.ActionTrigger))
			if tc.status/100 == 2 {
				if err != nil {
					t.Fatalf("status %d: %v", tc.status, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("status %d: no error", tc.status)
			}
			if retry != tc.retry || notify.RetryAfter(err) != tc.wait {
				t.Errorf("status %d: retry=%v wait=%s, want %v %s (%v)", tc.status, retry, notify.RetryAfter(err), tc.retry, tc.wait, err)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
				t.Errorf("the URL's token leaked: %v / %s", err, logs)
			}
			if len(s.got()) != 1 {
				t.Errorf("%d requests, want 1 (no redirect followed)", len(s.got()))
			}
		})
	}
}

// TestNoSecretLeak: network failures and config errors never show the URL
// or a header value.
func TestNoSecretLeak(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	n, logs := newNotifier(t, "http://"+addr+"/hook/"+token+"?key="+token, nil)
	retry, err := n.Notify(context.Background(), message(notify.ActionTrigger))
	if err == nil || !retry {
		t.Fatalf("retry=%v err=%v, want a retryable error", retry, err)
	}
	if strings.Contains(err.Error(), token) || strings.Contains(logs.String(), token) {
		t.Errorf("token leaked: %v / %s", err, logs)
	}
	cfg := DefaultConfig()
	cfg.URL = "ftp://host/" + token
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("validate: %v", err)
	}
	cfg = DefaultConfig()
	cfg.URL = "http://host/"
	cfg.Headers = map[string]string{"Authorization": "Bearer " + token}
	if err := cfg.Validate(); err == nil || strings.Contains(err.Error(), token) {
		t.Errorf("validate: %v", err)
	}
}

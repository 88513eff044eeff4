package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

var update = flag.Bool("update", false, "rewrite the golden payloads under testdata/")

// secretPath is the token part of the webhook URL, as Slack's are.
const secretPath = "/services/T0FLEET01/B0WATCH02/xoxbS3cr3tT0k3nAbCdEfGh"

type slackSink struct {
	mu         sync.Mutex
	bodies     [][]byte
	status     int
	answer     string
	retryAfter string
	srv        *httptest.Server
}

func newSink(t *testing.T) *slackSink {
	s := &slackSink{status: 200, answer: "ok"}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.URL.Path != secretPath {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, "no_service")
			return
		}
		s.bodies = append(s.bodies, b)
		if s.retryAfter != "" {
			w.Header().Set("Retry-After", s.retryAfter)
		}
		w.WriteHeader(s.status)
		_, _ = io.WriteString(w, s.answer)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func newNotifier(t *testing.T, url string, edit func(*Config)) (*Notifier, *bytes.Buffer) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "slack_url")
	if err := os.WriteFile(p, []byte(url+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.URLFile = p
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

func message(action string, servers int) notify.Message {
	m := notify.Message{
		IncidentID: "01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Action: action,
		Summary:  fmt.Sprintf("[FIRING:%d] NodeUnreachable rack=R12", servers),
		Severity: "critical", Source: "sw-r12", Receiver: "chat",
		Cause: fmt.Sprintf("switch sw-r12 port Et49 down; %d servers in rack R12 unreachable", servers),
		Links: []notify.Link{
			{Href: "https://fleetwatch.example/incidents/01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Text: "Incident"},
			{Href: "https://grafana.example/d/rack?var-rack=R12&from=now-1h", Text: "Rack <R12> graphs"},
		},
		Timestamp: t0,
	}
	for i := range servers {
		status := "firing"
		if i == 0 || action == notify.ActionResolve {
			status = "resolved"
		}
		m.Alerts = append(m.Alerts, notify.Alert{
			Status:      status,
			Labels:      map[string]string{"alertname": "NodeUnreachable", "instance": fmt.Sprintf("r12-s%02d", i+1)},
			Annotations: map[string]string{"summary": "no answer to ping & ssh"},
			StartsAt:    t0,
		})
	}
	return m
}

func TestPayloads(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  notify.Message
	}{
		{"trigger", message(notify.ActionTrigger, 3)},
		{"trigger_many", message(notify.ActionTrigger, 38)},
		{"acknowledge", message(notify.ActionAcknowledge, 3)},
		{"resolve", message(notify.ActionResolve, 3)},
		{"bare", notify.Message{IncidentID: "x1", Action: notify.ActionTrigger, Class: "DiskFull", Severity: "warning"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t)
			n, _ := newNotifier(t, s.srv.URL+secretPath, func(c *Config) { c.Channel = "#dc1-oncall"; c.Username = "fleetwatch" })
			if _, err := n.Notify(context.Background(), tc.msg); err != nil {
				t.Fatal(err)
			}
			if len(s.bodies) != 1 {
				t.Fatalf("%d posts, want 1", len(s.bodies))
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, s.bodies[0], "", "  "); err != nil {
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
				t.Errorf("payload differs from %s:\n%s", golden, pretty.Bytes())
			}
		})
	}
}

// TestReadable checks what an on-call engineer sees, independent of the
// golden files.
func TestReadable(t *testing.T) {
	p := Build(message(notify.ActionTrigger, 38), 5)
	a := p.Attachments[0]
	for _, want := range []string{"[FIRING:37] NodeUnreachable rack=R12"} {
		if a.Title != want || !strings.HasPrefix(p.Text, want) {
			t.Errorf("title %q / text %q, want %q", a.Title, p.Text, want)
		}
	}
	for _, want := range []string{"*Probable cause:* switch sw-r12 port Et49 down; 38 servers", "• *r12-s02* NodeUnreachable: no answer to ping &amp; ssh", "_… and 33 more_"} {
		if !strings.Contains(a.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, a.Text)
		}
	}
	if strings.Count(a.Text, "• ") != 5 || strings.Contains(a.Text, "r12-s01") {
		t.Errorf("want the 5 first firing alerts:\n%s", a.Text)
	}
	if a.TitleLink != "https://fleetwatch.example/incidents/01JPA9ZK7QF3M6V2W8X4Y5Z0AB" || a.Color != "danger" {
		t.Errorf("link %q color %q", a.TitleLink, a.Color)
	}
	if r := Build(message(notify.ActionResolve, 3), 5).Attachments[0]; !strings.HasPrefix(r.Title, "[RESOLVED:3]") || r.Color != "good" {
		t.Errorf("resolve: %q %q", r.Title, r.Color)
	}
}

func TestRetryClassification(t *testing.T) {
	for _, tc := range []struct {
		status     int
		answer     string
		retryAfter string
		retry      bool
		wait       time.Duration
	}{
		{429, "rate_limited", "30", true, 30 * time.Second},
		{500, "rollup_error", "", true, 0},
		{503, "service_unavailable", "", true, 0},
		{400, "invalid_payload", "", false, 0},
		{403, "invalid_token", "", false, 0},
		{404, "channel_not_found", "", false, 0},
		{410, "channel_is_archived", "", false, 0},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			s := newSink(t)
			s.status, s.answer, s.retryAfter = tc.status, tc.answer+" "+secretPath, tc.retryAfter
			n, logs := newNotifier(t, s.srv.URL+secretPath, nil)
			retry, err := n.Notify(context.Background(), message(notify.ActionTrigger, 2))
			if err == nil || retry != tc.retry || notify.RetryAfter(err) != tc.wait {
				t.Fatalf("retry=%v wait=%s err=%v; want retry=%v wait=%s", retry, notify.RetryAfter(err), err, tc.retry, tc.wait)
			}
			if !strings.Contains(err.Error(), tc.answer) {
				t.Errorf("error %q does not quote Slack's %q", err, tc.answer)
			}
			for _, part := range strings.Split(secretPath, "/")[2:] {
				if strings.Contains(err.Error(), part) || strings.Contains(logs.String(), part) {
					t.Errorf("URL part %q leaked: %v / %s", part, err, logs)
				}
			}
		})
	}
}

func TestSkips(t *testing.T) {
	s := newSink(t)
	n, _ := newNotifier(t, s.srv.URL+secretPath, func(c *Config) { c.SendResolved, c.SendAcknowledged = false, false })
	for _, a := range []string{notify.ActionResolve, notify.ActionAcknowledge, notify.ActionChange} {
		if _, err := n.Notify(context.Background(), message(a, 1)); err != nil {
			t.Error(err)
		}
	}
	if len(s.bodies) != 0 {
		t.Errorf("%d posts, want 0", len(s.bodies))
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	_ = os.WriteFile(good, []byte("https://hooks.slack.com"+secretPath), 0o600)
	badURL := filepath.Join(dir, "bad")
	_ = os.WriteFile(badURL, []byte("hooks.slack.com"+secretPath), 0o600)
	t.Setenv("FW_TEST_SLACK", "https://hooks.slack.com"+secretPath)
	for _, tc := range []struct{ name, yaml, errHas string }{
		{"file", "url_file: " + good, ""},
		{"env", "url_env: FW_TEST_SLACK", ""},
		{"all keys", "url_file: " + good + "\nchannel: '#ops'\nusername: fw\nicon_emoji: ':rotating_light:'\nicon_url: https://x.example/i.png\nmax_alerts: 10\ntimeout: 5s\nsend_resolved: false\nsend_acknowledged: false\ntls_config: {}\n", ""},
		{"inline url", "url: https://hooks.slack.com/services/x", "line 1: slack config: url: secrets are not written in the config, use url_file or url_env"},
		{"inline api_url", "api_url: https://hooks.slack.com/services/x", "api_url: secrets are not written"},
		{"none", "channel: '#x'", "url_file or url_env must be set"},
		{"not a url", "url_file: " + badURL, "not an http or https URL (value not shown)"},
		{"unknown key", "url_file: " + good + "\ntitle: x", `line 2: slack config: unknown key "title"`},
		{"bad max_alerts", "url_file: " + good + "\nmax_alerts: -2", "max_alerts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tc.yaml), &c)
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tc.errHas == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Errorf("error %v, want one containing %q", err, tc.errHas)
			}
			if err != nil && strings.Contains(err.Error(), "S3cr3t") {
				t.Errorf("URL leaked: %v", err)
			}
		})
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("url_env: X\nmax_alerts: 2\n")
	f.Add("url: https://hooks.slack.com/x\n")
	f.Add("icon_url: '%zz'\n")
	f.Fuzz(func(t *testing.T, text string) {
		var c Config
		if err := yaml.Unmarshal([]byte(text), &c); err != nil {
			return
		}
		_ = c.Validate()
	})
}

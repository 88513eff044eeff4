package pagerduty

import (
	"bytes"
	"flag"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
)

var update = flag.Bool("update", false, "rewrite the golden request bodies under testdata/")

// testKey is a routing key of PagerDuty's shape; tests look for it in
// errors and logs.
const testKey = "R0UT1NGKEYs3cr3t0123456789abcdef"

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newNotifier returns a notifier posting to srv with its logs in buf.
func newNotifier(t testing.TB, url string, edit func(*Config)) (*Notifier, *bytes.Buffer) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.URL = url
	cfg.RoutingKeyFile = writeFile(t, "routing_key", testKey+"\n")
	cfg.Timeout = 5 * time.Second
	if edit != nil {
		edit(&cfg)
	}
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	n, err := New(cfg, logger, nil)
	if err != nil {
		t.Fatal(err)
	}
	return n, &buf
}

func newServerNotifier(t testing.TB, edit func(*Config)) (*pdtest.Server, *Notifier, *bytes.Buffer) {
	t.Helper()
	srv := pdtest.NewServer(t)
	n, buf := newNotifier(t, srv.EnqueueURL(), edit)
	return srv, n, buf
}

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

// rackMessage is an incident of a rack gone dark behind its switch.
func rackMessage(action string) notify.Message {
	return notify.Message{
		IncidentID:  "01JPA9ZK7QF3M6V2W8X4Y5Z0AB",
		Action:      action,
		Summary:     "[FIRING:3] NodeUnreachable rack=R12: switch sw-r12 port Et49 down",
		Severity:    "critical",
		Source:      "sw-r12",
		Component:   "Et49",
		Group:       "dc1/R12",
		Class:       "NodeUnreachable",
		Cause:       "switch sw-r12 port Et49 down; 3 servers in rack R12 unreachable",
		Status:      "firing",
		Receiver:    "oncall",
		GroupKey:    `{}:{rack="R12"}`,
		GroupLabels: map[string]string{"rack": "R12"},
		CommonLabels: map[string]string{
			"alertname": "NodeUnreachable", "rack": "R12", "site": "dc1", "severity": "critical",
		},
		CommonAnnotations: map[string]string{"runbook_url": "https://runbooks.example/node-unreachable"},
		Alerts: []notify.Alert{
			alert("firing", "r12-s01", "a1b2c3d4e5f60718"),
			alert("firing", "r12-s02", "b1b2c3d4e5f60718"),
			alert("resolved", "r12-s03", "c1b2c3d4e5f60718"),
		},
		Links: []notify.Link{
			{Href: "https://fleetwatch.example/incidents/01JPA9ZK7QF3M6V2W8X4Y5Z0AB", Text: "Incident"},
			{Href: "https://grafana.example/d/rack?var-rack=R12", Text: "Rack R12"},
		},
		ExternalURL: "https://fleetwatch.example",
		Timestamp:   t0,
		Details:     map[string]string{"switch": "sw-r12"},
	}
}

func alert(status, host, fp string) notify.Alert {
	a := notify.Alert{
		Status:       status,
		Labels:       map[string]string{"alertname": "NodeUnreachable", "instance": host, "rack": "R12", "site": "dc1", "severity": "critical"},
		Annotations:  map[string]string{"summary": host + " does not answer"},
		StartsAt:     t0.Add(-2 * time.Minute),
		GeneratorURL: "http://prometheus.example/graph?g0.expr=up%3D%3D0",
		Fingerprint:  fp,
	}
	if status == "resolved" {
		a.EndsAt = t0.Add(-30 * time.Second)
	}
	return a
}

package acceptance

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// webhookMessage is the part of Alertmanager's webhook JSON (version 4)
// the comparison reads.
type webhookMessage struct {
	Version     string            `json:"version"`
	GroupKey    string            `json:"groupKey"`
	Status      string            `json:"status"`
	GroupLabels map[string]string `json:"groupLabels"`
	Alerts      []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

// webhookSink records the webhook notifications it receives.
type webhookSink struct {
	URL  string
	mu   sync.Mutex
	msgs []webhookMessage
	at   []time.Time
}

func newWebhookSink(t testing.TB) *webhookSink {
	s := &webhookSink{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m webhookMessage
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("webhook body: %v: %s", err, body)
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *webhookSink) messages() []webhookMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]webhookMessage(nil), s.msgs...)
}

// startAlertmanager runs Debian's prometheus-alertmanager with config on a
// free loopback port, gossip off, and returns its base URL.
func startAlertmanager(t testing.TB, config string) (string, *testpeer.Process) {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(testpeer.FreePort(t))
	p := testpeer.Start(t, "prometheus-alertmanager", "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	testpeer.WaitHTTP(t, "http://"+addr+"/-/ready", 30*time.Second)
	return "http://" + addr, p
}

// routeYAML is the route both get: same group_by and timers.
const routeYAML = `
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
`

// summary is one notification as "group: firing/resolved".
func summary(m webhookMessage) string {
	firing, resolved := 0, 0
	for _, a := range m.Alerts {
		if a.Status == "firing" {
			firing++
		} else {
			resolved++
		}
	}
	return fmt.Sprintf("%s:%d/%d", m.GroupLabels["alertname"], firing, resolved)
}

// perGroup lists each group's notifications in order.
func perGroup(ms []webhookMessage) map[string][]string {
	out := map[string][]string{}
	for _, m := range ms {
		g := m.GroupLabels["alertname"]
		out[g] = append(out[g], summary(m))
	}
	return out
}

// TestSameStreamAsAlertmanager sends one scripted alert stream to
// Debian's Alertmanager 0.25 and to fleetwatch, both with group_by
// [alertname], group_wait 1s, group_interval 2s, repeat_interval 1h and a
// webhook receiver, and compares the groups and the notifications each
// group gets.
//
// Timing: every change is posted at an even second after the start, and
// Alertmanager's group ticks fall on odd seconds (group_wait 1s, then
// every 2s), so each change is at least 1 s away from the tick that tells
// it: the test tolerates ±1 s of scheduling delay on either side.
func TestSameStreamAsAlertmanager(t *testing.T) {
	testpeer.Need(t, "prometheus-alertmanager")
	amHook, fwHook := newWebhookSink(t), newWebhookSink(t)
	amURL, _ := startAlertmanager(t, fmt.Sprintf(routeYAML, amHook.URL))
	f := newFleetwatch(t, fmt.Sprintf(routeYAML, fwHook.URL), nil)
	f.start()

	a := func(name, inst string, resolved bool) string {
		var end time.Time
		if resolved {
			end = time.Now().Add(-time.Second)
		}
		return alertJSON(map[string]string{"alertname": name, "instance": inst}, end)
	}
	steps := []struct {
		at     time.Duration
		alerts []string
	}{
		{0, []string{a("A", "1", false), a("A", "2", false), a("B", "1", false), a("C", "1", false)}},
		{2 * time.Second, []string{a("A", "3", false)}}, // joins A: told at the next group_interval
		{4 * time.Second, []string{a("B", "1", true)}},  // B's only alert resolves
		{6 * time.Second, []string{a("A", "1", true)}},  // one of A's resolves
		{8 * time.Second, []string{a("A", "2", true), a("A", "3", true), a("C", "1", true)}},
	}
	start := time.Now()
	groupsSeen := false
	for i, s := range steps {
		time.Sleep(time.Until(start.Add(s.at)))
		if late := time.Since(start.Add(s.at)); late > 500*time.Millisecond {
			t.Fatalf("step %d posted %v late: the machine is too busy for a 1 s tolerance", i, late)
		}
		body := "[" + strings.Join(s.alerts, ",") + "]"
		postAlerts(t, amURL, body)
		postAlerts(t, f.URL, body)
		if i == 1 && !groupsSeen {
			// Both show the same groups while the alerts fire.
			am, fw := groupNames(t, amURL), groupNames(t, f.URL)
			if strings.Join(am, ",") != strings.Join(fw, ",") || len(am) != 3 {
				t.Fatalf("groups: alertmanager %v, fleetwatch %v", am, fw)
			}
			groupsSeen = true
		}
	}
	// Past the last tick that could tell anything (t = 9 s), plus two
	// group intervals in which nothing more may arrive.
	time.Sleep(time.Until(start.Add(14 * time.Second)))

	am, fw := amHook.messages(), fwHook.messages()
	amGroups, fwGroups := perGroup(am), perGroup(fw)
	t.Logf("alertmanager: %d notifications %v", len(am), amGroups)
	t.Logf("fleetwatch:   %d notifications %v", len(fw), fwGroups)
	if len(am) == 0 {
		t.Fatal("alertmanager sent nothing")
	}
	if len(am) != len(fw) {
		t.Errorf("notifications: alertmanager %d, fleetwatch %d", len(am), len(fw))
	}
	if len(amGroups) != len(fwGroups) {
		t.Errorf("groups notified: alertmanager %d, fleetwatch %d", len(amGroups), len(fwGroups))
	}
	for g, want := range amGroups {
		if got := fwGroups[g]; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("group %s: alertmanager %v, fleetwatch %v", g, want, got)
		}
	}
	for _, m := range fw {
		if m.Version != "4" {
			t.Errorf("fleetwatch webhook version %q, want 4", m.Version)
		}
	}
}

// groupNames lists the alertname of each group GET /api/v2/alerts/groups
// shows.
func groupNames(t *testing.T, base string) []string {
	t.Helper()
	var groups []struct {
		Labels map[string]string `json:"labels"`
	}
	getJSON(t, base+"/api/v2/alerts/groups", &groups)
	var out []string
	for _, g := range groups {
		out = append(out, g.Labels["alertname"])
	}
	sort.Strings(out)
	return out
}

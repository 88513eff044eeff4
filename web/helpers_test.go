package web

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/inventory"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// testNow is the clock of every test: the scripted incidents happen in the
// hour before it.
var testNow = time.Date(2026, 3, 14, 3, 0, 0, 0, time.UTC)

func at(min int) time.Time { return testNow.Add(time.Duration(min) * time.Minute) }

func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "alerter.db"), sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// seed writes the scripted incidents:
//
//	inc-dc1-node   triggered, critical, dc1/r12: NodeDown (flapping 6 times),
//	               a linkDown trap, a Redfish SEL entry, a page sent, a
//	               remediation waiting for approval
//	inc-dc2-disk   acknowledged by alice, warning, dc2/r07
//	inc-dc1-old    resolved, info, dc1/r03
//
// and three silences: active, pending and expired.
func seed(t testing.TB, st store.Store) {
	t.Helper()
	ctx := context.Background()
	err := st.Update(ctx, func(tx store.Tx) error {
		incs := []store.Incident{
			{ID: "inc-dc1-node", GroupKey: "g1", Route: "root/dc1", Receiver: "pagerduty-dc1", Title: "NodeDown: srv-a1 (dc1/r12)",
				Cause: "switch sw-r12 port Et49 down", Severity: "critical", State: store.Triggered,
				Labels:     map[string]string{"alertname": "NodeDown", "site": "dc1", "rack": "r12"},
				AlertCount: 2, FiringCount: 1, CreatedAt: at(-42), UpdatedAt: at(-5)},
			{ID: "inc-dc2-disk", GroupKey: "g2", Route: "root/dc2", Receiver: "slack-storage", Title: "DiskFilling: srv-b7 /var",
				Severity: "warning", State: store.Acknowledged, Assignee: "alice",
				Labels:     map[string]string{"alertname": "DiskFilling", "site": "dc2", "rack": "r07"},
				AlertCount: 1, FiringCount: 1, CreatedAt: at(-30), UpdatedAt: at(-20), AcknowledgedAt: at(-25)},
			{ID: "inc-dc1-old", GroupKey: "g3", Route: "root/dc1", Receiver: "pagerduty-dc1", Title: "NTPDrift: srv-a3",
				Severity: "info", State: store.Resolved,
				Labels:     map[string]string{"alertname": "NTPDrift", "site": "dc1", "rack": "r03"},
				AlertCount: 1, CreatedAt: at(-50), UpdatedAt: at(-44), ResolvedAt: at(-44)},
		}
		for _, inc := range incs {
			if err := tx.CreateIncident(ctx, inc); err != nil {
				return err
			}
		}
		alerts := []store.Alert{
			{Fingerprint: "00000000000000a1", IncidentID: "inc-dc1-node", StartsAt: at(-43),
				Labels:       map[string]string{"alertname": "NodeDown", "instance": "srv-a1", "server": "srv-a1", "site": "dc1", "rack": "r12", "severity": "critical", "job": "node"},
				Annotations:  map[string]string{"summary": "srv-a1 does not answer"},
				GeneratorURL: "http://fleetwatch:9470/graph?g0.expr=" + url.QueryEscape(`up{job="node"} == 0`) + "&g0.tab=1", UpdatedAt: at(-5)},
			{Fingerprint: "00000000000000a2", IncidentID: "inc-dc1-node", StartsAt: at(-41), EndsAt: at(-30),
				Labels:      map[string]string{"alertname": "NodeHighLoad", "instance": "srv-a2", "server": "srv-a2", "site": "dc1", "rack": "r12", "severity": "warning"},
				Annotations: map[string]string{"summary": "load <b>high</b> on srv-a2"}, UpdatedAt: at(-30)},
			{Fingerprint: "00000000000000b7", IncidentID: "inc-dc2-disk", StartsAt: at(-31),
				Labels:      map[string]string{"alertname": "DiskFilling", "instance": "srv-b7", "server": "srv-b7", "site": "dc2", "rack": "r07", "severity": "warning"},
				Annotations: map[string]string{"summary": "/var 91% full"}, UpdatedAt: at(-31)},
			{Fingerprint: "00000000000000a3", IncidentID: "inc-dc1-old", StartsAt: at(-51), EndsAt: at(-44),
				Labels: map[string]string{"alertname": "NTPDrift", "instance": "srv-a3", "server": "srv-a3", "site": "dc1", "rack": "r03", "severity": "info"}, UpdatedAt: at(-44)},
		}
		for _, a := range alerts {
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		node := map[string]string{"alertname": "NodeDown", "instance": "srv-a1", "site": "dc1", "rack": "r12"}
		evs := []store.TimelineEvent{
			{Time: at(-43), Kind: store.EventAlertFiring, Actor: "rule:NodeDown", Summary: "NodeDown firing on srv-a1", Labels: node},
			{Time: at(-42), Kind: store.EventIncidentCreated, Actor: "fleetwatch", Summary: "incident opened on route root/dc1"},
			{Time: at(-42), Kind: store.EventNotificationSent, Actor: "pagerduty", Summary: "pagerduty-dc1: trigger accepted (dedup_key inc-dc1-node)"},
			{Time: at(-41), Kind: store.EventIncidentGrouped, Actor: "fleetwatch", Summary: "NodeHighLoad on srv-a2 joined"},
			{Time: at(-40), Kind: store.EventExternal, Actor: "snmp_trap", Summary: "linkDown sw-r12 Et49", Labels: map[string]string{"switch": "sw-r12", "switch_port": "Et49"}},
			{Time: at(-39), Kind: store.EventExternal, Actor: "redfish_log", Summary: "iLOEvents.2.1.ServerPoweredOff: Server power removed", Labels: map[string]string{"server": "srv-a1"}},
			{Time: at(-38), Kind: store.EventRemediationProposed, Actor: "fleetwatch", Summary: "power-cycle srv-a1 waits for approval"},
		}
		for i := 0; i < 6; i++ {
			evs = append(evs,
				store.TimelineEvent{Time: at(-37 + 2*i), Kind: store.EventAlertResolved, Actor: "rule:NodeDown", Summary: "NodeDown resolved on srv-a1", Labels: node},
				store.TimelineEvent{Time: at(-36 + 2*i), Kind: store.EventAlertFiring, Actor: "rule:NodeDown", Summary: "NodeDown firing on srv-a1", Labels: node})
		}
		evs = append(evs, store.TimelineEvent{Time: at(-10), Kind: store.EventNote, Actor: "user:bob", Summary: "looking at <sw-r12> & its optics"})
		for _, e := range evs {
			e.IncidentID = "inc-dc1-node"
			if _, err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		if _, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: "inc-dc2-disk", Time: at(-25), Kind: store.EventAcknowledged, Actor: "user:alice", Summary: "acknowledged by alice"}); err != nil {
			return err
		}
		if _, err := tx.AddRemediationRun(ctx, store.RemediationRun{IncidentID: "inc-dc1-node", Action: "power-cycle", Target: "srv-a1",
			Status: "awaiting_approval", Reason: "guard: approval required for power actions", Actor: "fleetwatch", CreatedAt: at(-38)}); err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, store.Notification{IncidentID: "inc-dc1-node", Receiver: "pagerduty-dc1", Action: "trigger",
			Payload: json.RawMessage(`{}`), CreatedAt: at(-42), NextAttempt: at(-42), State: store.NotificationPending}); err != nil {
			return err
		}
		for _, s := range []store.Silence{
			{ID: "sil-active", Matchers: []store.Matcher{{Name: "alertname", Value: "NTPDrift", IsEqual: true}, {Name: "site", Value: "dc1|dc3", IsRegex: true, IsEqual: true}},
				StartsAt: at(-60), EndsAt: at(60), CreatedBy: "user:carol", Comment: "NTP servers replaced tonight", UpdatedAt: at(-60)},
			{ID: "sil-pending", Matchers: []store.Matcher{{Name: "rack", Value: "r99", IsEqual: true}},
				StartsAt: at(120), EndsAt: at(240), CreatedBy: "user:carol", Comment: "rack r99 recabling", UpdatedAt: at(-60)},
			{ID: "sil-expired", Matchers: []store.Matcher{{Name: "instance", Value: "srv-z9", IsEqual: false}},
				StartsAt: at(-300), EndsAt: at(-200), CreatedBy: "user:dave", Comment: "old", UpdatedAt: at(-200)},
		} {
			if err := tx.PutSilence(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// storeActions is the tests' stand-in for the alerter engine: it changes
// incidents and silences in the store as the engine would, and records
// the calls.
type storeActions struct {
	st  store.Store
	now func() time.Time

	mu    sync.Mutex
	calls []string
}

func (a *storeActions) record(format string, args ...any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, fmt.Sprintf(format, args...))
}

func (a *storeActions) Calls() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.calls...)
}

func (a *storeActions) change(ctx context.Context, id, actor, kind, summary string, fn func(*store.Incident) error) error {
	return a.st.Update(ctx, func(tx store.Tx) error {
		inc, err := tx.GetIncident(ctx, id)
		if err != nil {
			return fmt.Errorf("incident %q: %w", id, err)
		}
		if err := fn(&inc); err != nil {
			return err
		}
		inc.UpdatedAt = a.now()
		if _, err := tx.UpdateIncident(ctx, inc); err != nil {
			return err
		}
		_, err = tx.AddEvent(ctx, store.TimelineEvent{IncidentID: id, Time: a.now(), Kind: kind, Actor: actor, Summary: summary})
		return err
	})
}

func (a *storeActions) Ack(ctx context.Context, id, actor string) error {
	a.record("ack %s %s", id, actor)
	return a.change(ctx, id, actor, store.EventAcknowledged, "acknowledged by "+actor, func(inc *store.Incident) error {
		if inc.State == store.Resolved {
			return fmt.Errorf("%w: incident %q is resolved", ErrInvalid, id)
		}
		inc.State, inc.AcknowledgedAt, inc.Assignee = store.Acknowledged, a.now(), strings.TrimPrefix(actor, "user:")
		return nil
	})
}

func (a *storeActions) Resolve(ctx context.Context, id, actor string) error {
	a.record("resolve %s %s", id, actor)
	return a.change(ctx, id, actor, store.EventResolved, "resolved by "+actor, func(inc *store.Incident) error {
		inc.State, inc.ResolvedAt = store.Resolved, a.now()
		return nil
	})
}

func (a *storeActions) AddNote(ctx context.Context, id, actor, text string) error {
	a.record("note %s %s %q", id, actor, text)
	return a.change(ctx, id, actor, store.EventNote, text, func(*store.Incident) error { return nil })
}

func (a *storeActions) ApproveRemediation(ctx context.Context, id string, run int64, actor string) error {
	a.record("approve %s %d %s", id, run, actor)
	return a.setRun(ctx, id, run, "running", actor, "")
}

func (a *storeActions) RejectRemediation(ctx context.Context, id string, run int64, actor, reason string) error {
	a.record("reject %s %d %s %q", id, run, actor, reason)
	return a.setRun(ctx, id, run, "skipped", actor, reason)
}

func (a *storeActions) setRun(ctx context.Context, id string, run int64, status, actor, reason string) error {
	return a.st.Update(ctx, func(tx store.Tx) error {
		runs, err := tx.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: id})
		if err != nil {
			return err
		}
		for _, r := range runs {
			if r.ID == run {
				r.Status, r.Actor = status, actor
				if reason != "" {
					r.Reason = reason
				}
				return tx.UpdateRemediationRun(ctx, r)
			}
		}
		return fmt.Errorf("remediation run %d of incident %q: %w", run, id, store.ErrNotFound)
	})
}

func (a *storeActions) CreateSilence(ctx context.Context, s store.Silence, actor string) (string, error) {
	a.record("silence %s %s %q", fmtMatchers(s.Matchers), actor, s.Comment)
	s.ID = fmt.Sprintf("sil-%d", len(a.Calls()))
	s.UpdatedAt = a.now()
	return s.ID, a.st.Update(ctx, func(tx store.Tx) error { return tx.PutSilence(ctx, s) })
}

func (a *storeActions) ExpireSilence(ctx context.Context, id, actor string) error {
	a.record("expire %s %s", id, actor)
	return a.st.Update(ctx, func(tx store.Tx) error {
		s, err := tx.GetSilence(ctx, id)
		if err != nil {
			return fmt.Errorf("silence %q: %w", id, err)
		}
		s.EndsAt, s.UpdatedAt = a.now(), a.now()
		return tx.PutSilence(ctx, s)
	})
}

// fakeQuerier answers every range query with two series: a step that
// rises at the incident, and a flat one; up from a fixed table.
type fakeQuerier struct {
	up    map[string]float64
	fail  error
	mu    sync.Mutex
	exprs []string
}

func (f *fakeQuerier) Query(_ context.Context, expr string, ts time.Time) ([]Series, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	var out []Series
	for inst, v := range f.up {
		out = append(out, Series{Labels: map[string]string{"__name__": "up", "instance": inst, "job": "node"}, Points: []Point{{T: ts, V: v}}})
	}
	return out, nil
}

func (f *fakeQuerier) QueryRange(_ context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	f.mu.Lock()
	f.exprs = append(f.exprs, expr)
	f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	a := Series{Labels: map[string]string{"__name__": "up", "instance": "srv-a1", "job": "node"}}
	b := Series{Labels: map[string]string{"__name__": "up", "instance": "srv-a2", "job": "node"}}
	for t := start; !t.After(end); t = t.Add(step) {
		v := 1.0
		if !t.Before(at(-43)) {
			v = 0
		}
		a.Points = append(a.Points, Point{T: t, V: v})
		b.Points = append(b.Points, Point{T: t, V: 1})
	}
	return []Series{a, b}, nil
}

func testInventory() *inventory.Inventory {
	return &inventory.Inventory{
		Servers: []inventory.Server{
			{Hostname: "srv-a1", Location: inventory.Location{Site: "dc1", Row: "1", Rack: "r12"}, Lifecycle: inventory.InService},
			{Hostname: "srv-a2", Location: inventory.Location{Site: "dc1", Row: "1", Rack: "r12"}, Lifecycle: inventory.InService},
			{Hostname: "srv-a3", Location: inventory.Location{Site: "dc1", Row: "1", Rack: "r03"}, Lifecycle: inventory.Maintenance},
			{Hostname: "srv-a4", Location: inventory.Location{Site: "dc1", Row: "1", Rack: "r03"}, Lifecycle: inventory.InService},
			{Hostname: "srv-b7", Location: inventory.Location{Site: "dc2", Row: "4", Rack: "r07"}, Lifecycle: inventory.InService},
			{Hostname: "srv-b8", Location: inventory.Location{Site: "dc2", Row: "4", Rack: "r07"}, Lifecycle: inventory.Decommissioned},
		},
		Switches: []inventory.Switch{{Hostname: "sw-r12", Address: "10.0.12.1", Location: inventory.Location{Site: "dc1", Rack: "r12"}, Role: "tor"}},
	}
}

type fixture struct {
	st      *sqlstore.Store
	actions *storeActions
	q       *fakeQuerier
	ui      *UI
	srv     *httptest.Server
	reg     *prometheus.Registry
}

// newFixture serves a UI over the seeded store on a loopback test server;
// mod may change the options before New.
func newFixture(t testing.TB, mod func(*Options)) *fixture {
	t.Helper()
	st := openStore(t)
	seed(t, st)
	f := &fixture{st: st, actions: &storeActions{st: st, now: func() time.Time { return testNow }},
		q: &fakeQuerier{up: map[string]float64{"srv-a1": 0, "srv-a2": 1, "srv-a4": 1, "srv-b7": 1, "sw-r12": 1}}, reg: prometheus.NewRegistry()}
	o := Options{
		Store: st, Actions: f.actions, Querier: f.q, Inventory: testInventory,
		Targets: TargetListerFunc(func() []TargetStatus {
			return []TargetStatus{
				{Job: "node", Address: "srv-a1:9100", Labels: map[string]string{"instance": "srv-a1", "site": "dc1"}, Health: "down", LastError: "dial tcp 10.0.1.1:9100: connect: connection refused", LastCollection: at(-1), LastDuration: 3 * time.Millisecond, Interval: 15 * time.Second},
				{Job: "node", Address: "srv-a2:9100", Labels: map[string]string{"instance": "srv-a2", "site": "dc1"}, Health: "up", LastCollection: at(-1), LastDuration: 12 * time.Millisecond, Interval: 15 * time.Second},
				{Job: "bmc", Address: "srv-a1-bmc:443", Labels: map[string]string{"instance": "srv-a1"}, Health: "up", LastCollection: at(-1), LastDuration: 420 * time.Millisecond, Interval: time.Minute},
			}
		}),
		Registerer: f.reg, Now: func() time.Time { return testNow },
	}
	if mod != nil {
		mod(&o)
	}
	ui, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.ui = ui
	f.srv = httptest.NewServer(ui.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// newServer serves ui on a loopback test server and returns its URL.
func newServer(t testing.TB, ui *UI) string {
	t.Helper()
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// client is a browser-like HTTP client: it keeps cookies and does not
// follow redirects (tests look at them).
func (f *fixture) client(t testing.TB) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t testing.TB, c *http.Client, u string, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func post(t testing.TB, c *http.Client, u string, form url.Values, hdr ...string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf returns the CSRF token of the first form on page.
func csrfOf(t testing.TB, page string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("page has no CSRF field:\n%s", page)
	}
	return m[1]
}

// fragment cuts the element starting with open (e.g. `<section id="x"`)
// up to its closing tag, with the random CSRF tokens replaced.
func fragment(t testing.TB, page, open, closeTag string) string {
	t.Helper()
	i := strings.Index(page, open)
	if i < 0 {
		t.Fatalf("page has no %s:\n%s", open, page)
	}
	j := strings.Index(page[i:], closeTag)
	if j < 0 {
		t.Fatalf("page has no %s after %s", closeTag, open)
	}
	return csrfRE.ReplaceAllString(page[i:i+j+len(closeTag)], `name="csrf" value="CSRF"`) + "\n"
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./web -run %s -update to create it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (go test ./web -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

var errBoom = errors.New("database is locked")

type inventoryT = inventory.Inventory

func invServer(i int) inventory.Server {
	return inventory.Server{Hostname: fmt.Sprintf("srv-%05d", i),
		Location:  inventory.Location{Site: fmt.Sprintf("dc%d", i%3), Rack: fmt.Sprintf("r%03d", i/40)},
		Lifecycle: inventory.InService}
}

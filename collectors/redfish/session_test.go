package redfish

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/fleetwatch/fleetwatch/simulate/bmc"
)

const testPassword = "s3cr3t-Pa55word-never-shown"

func withPassword(t *testing.T, cfg Config) Config {
	t.Helper()
	f := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(f, []byte(testPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Username, cfg.PasswordFile = "admin", f
	return cfg
}

func TestSessions(t *testing.T) {
	auth := bmc.HandlerOptions{Username: "admin", Password: testPassword}
	t.Run("one session reused, new login after 401", func(t *testing.T) {
		b, url := serveMockup(t, "dmtf-public-bladed", auth)
		c := newTestCollector(t, withPassword(t, testConfig()), nil)
		for i := range 3 {
			if err := c.Collect(context.Background(), target(url), newFakeApp()); err != nil {
				t.Fatalf("poll %d: %v", i, err)
			}
		}
		if b.Logins() != 1 {
			t.Fatalf("3 polls made %d logins, want 1 session reused", b.Logins())
		}
		b.ExpireSessions() // the BMC forgets the session mid-life
		app := newFakeApp()
		if err := c.Collect(context.Background(), target(url), app); err != nil {
			t.Fatalf("poll after the session expired: %v", err)
		}
		if b.Logins() != 2 {
			t.Errorf("logins after expiry = %d, want 2", b.Logins())
		}
		if len(app.find("redfish_health", "type", "system")) != 4 {
			t.Errorf("poll after re-login lost data:\n%s", app.text())
		}
	})
	t.Run("session limit reached falls back to basic auth", func(t *testing.T) {
		b, url := serveMockup(t, "intel-s2600bpb", auth)
		if err := b.SetFault(bmc.SessionsFull, true); err != nil {
			t.Fatal(err)
		}
		c := newTestCollector(t, withPassword(t, testConfig()), nil)
		app := newFakeApp()
		if err := c.Collect(context.Background(), target(url), app); err != nil {
			t.Fatal(err)
		}
		if b.Logins() != 0 || b.Sessions() != 0 {
			t.Errorf("logins %d sessions %d, want none", b.Logins(), b.Sessions())
		}
		if app.get(t, `{__name__="redfish_health", resource="QSBP74100021", type="system"}`) != 0 {
			t.Error("system health not read over basic auth")
		}
	})
	t.Run("auth session without a free slot fails", func(t *testing.T) {
		b, url := serveMockup(t, "intel-s2600bpb", auth)
		_ = b.SetFault(bmc.SessionsFull, true)
		cfg := withPassword(t, testConfig())
		cfg.Auth = "session"
		c := newTestCollector(t, cfg, nil)
		err := c.Collect(context.Background(), target(url), newFakeApp())
		if err == nil || !strings.Contains(err.Error(), "SessionLimitExceeded") {
			t.Fatalf("err = %v, want the session limit named", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, url := serveMockup(t, "intel-s2600bpb", bmc.HandlerOptions{Username: "admin", Password: "other"})
		c := newTestCollector(t, withPassword(t, testConfig()), nil)
		err := c.Collect(context.Background(), target(url), newFakeApp())
		if err == nil || !strings.Contains(err.Error(), "401") {
			t.Fatalf("err = %v, want a 401", err)
		}
	})
	t.Run("logout on close", func(t *testing.T) {
		b, url := serveMockup(t, "hpe-proliant-dl325-gen10plus-ilo5", auth)
		c := newTestCollector(t, withPassword(t, testConfig()), nil)
		if err := c.Collect(context.Background(), target(url), newFakeApp()); err != nil {
			t.Fatal(err)
		}
		if b.Sessions() != 1 {
			t.Fatalf("sessions = %d, want 1", b.Sessions())
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if b.Sessions() != 0 || b.Logouts() != 1 {
			t.Errorf("after Close: sessions %d logouts %d, want 0 and 1", b.Sessions(), b.Logouts())
		}
		if err := c.Collect(context.Background(), target(url), newFakeApp()); err == nil {
			t.Error("Collect after Close succeeded")
		}
	})
}

// TestFaultsIsolated polls BMCs that hang, answer 500, HTML, truncated or
// malformed JSON or redirect forever, together with a healthy one: each
// broken BMC is an error naming it, the healthy one's result is complete.
func TestFaultsIsolated(t *testing.T) {
	faults := []bmc.Fault{bmc.Hang, bmc.HTTP500, bmc.HTMLPage, bmc.Truncated, bmc.Malformed, bmc.RedirectLoop, ""}
	want := map[bmc.Fault]string{
		bmc.Hang: "no answer within", bmc.HTTP500: "HTTP 500", bmc.HTMLPage: "HTML page",
		bmc.Truncated: "not valid JSON", bmc.Malformed: "not valid JSON", bmc.RedirectLoop: "redirects",
	}
	urls := make([]string, len(faults))
	for i, f := range faults {
		b, url := serveMockup(t, "dmtf-public-rackmount1", bmc.HandlerOptions{})
		if f != "" {
			if err := b.SetFault(f, true); err != nil {
				t.Fatal(err)
			}
		}
		urls[i] = url
	}
	cfg := testConfig()
	cfg.RequestTimeout = modelDuration(300 * time.Millisecond)
	c := newTestCollector(t, cfg, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errs := make([]error, len(faults))
	apps := make([]*fakeApp, len(faults))
	var wg sync.WaitGroup
	for i := range faults {
		wg.Add(1)
		go func() {
			defer wg.Done()
			apps[i] = newFakeApp()
			errs[i] = c.Collect(ctx, target(urls[i]), apps[i])
		}()
	}
	wg.Wait()
	for i, f := range faults {
		t.Run(string(f)+"-"+map[bool]string{true: "healthy", false: "fault"}[f == ""], func(t *testing.T) {
			if f == "" {
				if errs[i] != nil {
					t.Fatalf("healthy BMC failed: %v", errs[i])
				}
				if got := stripPollCounters(apps[i].text()); got != stripPollCounters(goldenText(t, "golden/dmtf-public-rackmount1.prom")) {
					t.Errorf("healthy BMC's samples differ from its golden file")
				}
				return
			}
			if errs[i] == nil {
				t.Fatalf("fault %s: no error", f)
			}
			if !strings.Contains(errs[i].Error(), want[f]) || !strings.Contains(errs[i].Error(), urls[i]) {
				t.Errorf("fault %s: error %q should name the BMC and say %q", f, errs[i], want[f])
			}
		})
	}
}

// TestHardwareFaults checks that a stopped fan, a failed PSU and DIMM
// errors injected into the simulator show in the samples and the events,
// and that log reading is incremental.
func TestHardwareFaults(t *testing.T) {
	b, url := serveMockup(t, "hpe-proliant-dl325-gen10plus-ilo5", bmc.HandlerOptions{})
	var sink eventLog
	cfg := testConfig()
	cfg.LogServices.History = modelDuration(time.Hour) // the mockup's entries are years old
	c := newTestCollector(t, cfg, &sink)
	app := newFakeApp()
	if err := c.Collect(context.Background(), target(url), app); err != nil {
		t.Fatal(err)
	}
	if n := len(sink.all()); n != 0 {
		t.Fatalf("first poll with history 1h handed over %d old entries", n)
	}
	fan := `{__name__="redfish_fan_percent", chassis="1", fan="Fan 1"}`
	psu := `{__name__="redfish_psu_health", chassis="1", psu="HpeServerPowerSupply 0"}`
	if app.get(t, fan) == 0 || app.get(t, psu) != 0 {
		t.Fatalf("healthy BMC: fan %v psu health %v", app.get(t, fan), app.get(t, psu))
	}
	for _, f := range []bmc.Fault{bmc.FanStop, bmc.PSUFail, bmc.DIMMErrors} {
		if err := b.SetFault(f, true); err != nil {
			t.Fatal(err)
		}
	}
	c.now = func() time.Time { return time.Now() }
	for poll := range 2 {
		app = newFakeApp()
		if err := c.Collect(context.Background(), target(url), app); err != nil {
			t.Fatal(err)
		}
		if app.get(t, fan) != 0 || app.get(t, `{__name__="redfish_fan_health", chassis="1", fan="Fan 1"}`) != 2 {
			t.Errorf("fan_stop: fan %v", app.get(t, fan))
		}
		if app.get(t, psu) != 2 {
			t.Errorf("psu_fail: psu health %v", app.get(t, psu))
		}
		if app.get(t, `{__name__="redfish_memory_uncorrectable_errors_total", dimm="proc1dimm1", system="1"}`) < 1 {
			t.Error("dimm_ue: no uncorrectable errors")
		}
		evs := sink.all()
		if len(evs) != 1 {
			t.Fatalf("poll %d: %d events, want exactly the DIMM entry once: %+v", poll, len(evs), evs)
		}
		e := evs[0]
		if e.Severity != "critical" || e.Kind != "Memory.1.0.UncorrectableError" || e.Labels["server"] != "srv-1" || e.Labels["rack"] != "r12" || e.Source != "redfish_log" {
			t.Errorf("event = %+v", e)
		}
	}
}

func TestBudget(t *testing.T) {
	_, url := serveMockup(t, "dmtf-public-rackmount1", bmc.HandlerOptions{})
	cfg := testConfig()
	cfg.RequestBudget = 4
	c := newTestCollector(t, cfg, nil)
	app := newFakeApp()
	if err := c.Collect(context.Background(), target(url), app); err != nil {
		t.Fatal(err)
	}
	if app.get(t, `{__name__="redfish_poll_budget_exhausted"}`) != 1 {
		t.Error("budget of 4 requests not reported as exhausted")
	}
	if n := app.get(t, `{__name__="redfish_poll_requests"}`); n > 4+3 {
		t.Errorf("poll sent %v requests with a budget of 4", n)
	}
}

// TestNoSecretLeak greps logs, errors, samples, self-metrics and events for
// the password.
func TestNoSecretLeak(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	var sink eventLog
	cfg := withPassword(t, testConfig())
	c, err := New(cfg, &sink, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, opts := range []bmc.HandlerOptions{
		{Username: "admin", Password: testPassword},
		{Username: "admin", Password: "wrong"},
		{Username: "admin", Password: testPassword, NoSessions: true},
	} {
		_, url := serveMockup(t, "dmtf-public-rackmount1", opts)
		app := newFakeApp()
		if err := c.Collect(context.Background(), target(url), app); err != nil {
			seen = append(seen, err.Error())
		}
		seen = append(seen, app.text())
		var out bytes.Buffer
		if err := Get(context.Background(), cfg, url, "/redfish/v1/Systems", &out); err != nil {
			seen = append(seen, err.Error())
		}
	}
	_ = c.Close(context.Background())
	mfs, _ := reg.Gather()
	var m bytes.Buffer
	for _, mf := range mfs {
		_, _ = expfmt.MetricFamilyToText(&m, mf)
	}
	seen = append(seen, logs.String(), m.String())
	for _, e := range sink.all() {
		seen = append(seen, e.Summary)
		for k, v := range e.Attributes {
			seen = append(seen, k+v)
		}
	}
	for _, s := range seen {
		if strings.Contains(s, testPassword) {
			t.Fatalf("password leaked in: %.300s", s)
		}
	}
	if !strings.Contains(m.String(), "fleetwatch_redfish_requests_total") {
		t.Error("self-metrics missing")
	}
}

func TestGet(t *testing.T) {
	_, url := serveMockup(t, "intel-s2600bpb", bmc.HandlerOptions{})
	var out bytes.Buffer
	if err := Get(context.Background(), testConfig(), url, "/redfish/v1/Chassis/RackMount/Baseboard/", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"@odata.id": "/redfish/v1/Chassis/RackMount/Baseboard"`) {
		t.Errorf("output:\n%.500s", out.String())
	}
	err := Get(context.Background(), testConfig(), url, "/redfish/v1/Nope", &out)
	if err == nil || !errors.Is(err, errNotFound()) {
		t.Errorf("missing path: err = %v", err)
	}
}

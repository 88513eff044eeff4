package receivers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty/pdtest"
)

const routingKey = "0123456789abcdef0123456789abcdef"

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParse(t *testing.T) {
	key := writeFile(t, "key", routingKey)
	hook := writeFile(t, "hook", "http://127.0.0.1:1/hook")
	for _, tc := range []struct{ name, yaml, errHas string }{
		{"all", `receivers:
- name: oncall
  pagerduty_configs:
  - routing_key_file: ` + key + `
  webhook_configs:
  - url_file: ` + hook + `
  - url: http://127.0.0.1:2/second
  slack_configs:
  - url_file: ` + hook + `
- name: blackhole
`, ""},
		{"unknown receiver key", "receivers:\n- name: a\n  pagerduty_config: []\n", `line 3: receiver: unknown key "pagerduty_config"`},
		{"unsupported integration", "receivers:\n- name: a\n  email_configs: [{to: x}]\n", "line 3: receiver: email_configs are not supported by fleetwatch"},
		{"unknown key inside a config", "receivers:\n- name: a\n  pagerduty_configs:\n  - routing_key_file: " + key + "\n    sevrity: x\n", `line 5: pagerduty config: unknown key "sevrity"`},
		{"inline secret", "receivers:\n- name: a\n  pagerduty_configs:\n  - routing_key: " + routingKey + "\n", "line 4: pagerduty config: routing_key: secrets are not written in the config"},
		{"duplicate", "receivers:\n- name: a\n- name: a\n", `receiver "a": defined more than once`},
		{"no name", "receivers:\n- webhook_configs: [{url: 'http://x/'}]\n", `name "": want letters`},
		{"bad config named", "receivers:\n- name: a\n  webhook_configs:\n  - url: http://x/\n  - url: x\n", `receiver "a": webhook_configs[1]: webhook config: url: not an http or https URL`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Parse([]byte(tc.yaml))
			switch {
			case tc.errHas == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.errHas != "" && (err == nil || !strings.Contains(err.Error(), tc.errHas)):
				t.Fatalf("error %v, want one containing %q", err, tc.errHas)
			}
			if tc.errHas == "" {
				r, err := New(rs, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(r.Names(), ","); got != "blackhole,oncall" {
					t.Errorf("names %s", got)
				}
				if got := len(r.Parts("oncall")); got != 4 {
					t.Errorf("oncall has %d parts, want 4", got)
				}
			}
		})
	}
}

// part is a fake config: it fails with the queued results, then succeeds.
type part struct {
	calls   atomic.Int32
	mu      sync.Mutex
	results []error
	retry   bool
}

func (p *part) Notify(ctx context.Context, m notify.Message) (bool, error) {
	p.calls.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.results) == 0 {
		return false, nil
	}
	err := p.results[0]
	p.results = p.results[1:]
	return p.retry, err
}

func TestFanout(t *testing.T) {
	ok := &part{}
	flaky := &part{retry: true, results: []error{notify.WithRetryAfter(errors.New("HTTP 429"), 30*time.Second)}}
	broken := &part{results: []error{errors.New("HTTP 400"), errors.New("HTTP 400")}}
	slow := &part{retry: true, results: []error{notify.WithRetryAfter(errors.New("HTTP 503"), 5*time.Second)}}
	f := NewFanout("oncall", []Part{{"pagerduty_configs[0]", ok}, {"webhook_configs[0]", flaky}, {"webhook_configs[1]", broken}, {"slack_configs[0]", slow}})
	m := notify.Message{IncidentID: "i1", Action: notify.ActionTrigger, Timestamp: time.Unix(100, 0)}

	retry, err := f.Notify(context.Background(), m)
	if !retry || err == nil {
		t.Fatalf("first: retry=%v err=%v, want a retry", retry, err)
	}
	for _, want := range []string{`receiver "oncall": webhook_configs[0]: HTTP 429`, `webhook_configs[1]: HTTP 400`, `slack_configs[0]: HTTP 503`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if got := notify.RetryAfter(err); got != 30*time.Second {
		t.Errorf("RetryAfter = %s, want the longest, 30s", got)
	}
	// The retry goes only to the parts that may still succeed.
	retry, err = f.Notify(context.Background(), m)
	if retry || err != nil {
		t.Fatalf("second: retry=%v err=%v", retry, err)
	}
	for name, c := range map[string]struct {
		p    *part
		want int32
	}{"ok": {ok, 1}, "flaky": {flaky, 2}, "broken": {broken, 1}, "slow": {slow, 2}} {
		if got := c.p.calls.Load(); got != c.want {
			t.Errorf("%s called %d times, want %d", name, got, c.want)
		}
	}
	// A different message goes to every part again.
	m.Action = notify.ActionResolve
	if _, err := f.Notify(context.Background(), m); err == nil || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("resolve: %v, want broken's error again", err)
	}
	if got := ok.calls.Load(); got != 2 {
		t.Errorf("ok called %d times, want 2", got)
	}
	// No retry when every failure is permanent.
	f2 := NewFanout("x", []Part{{"a", &part{results: []error{errors.New("bad")}}}, {"b", &part{}}})
	if retry, err := f2.Notify(context.Background(), m); retry || err == nil {
		t.Errorf("permanent: retry=%v err=%v", retry, err)
	}
	// No parts: nothing to do, no error.
	if retry, err := NewFanout("null", nil).Notify(context.Background(), m); retry || err != nil {
		t.Errorf("null receiver: retry=%v err=%v", retry, err)
	}
}

func TestFanoutForgets(t *testing.T) {
	f := NewFanout("x", []Part{{"a", &part{retry: true, results: make([]error, 0)}}, {"b", &part{}}})
	for i := range memoSize * 2 {
		m := notify.Message{IncidentID: "i", Action: "trigger", Timestamp: time.Unix(int64(i), 0)}
		flaky := f.parts[0].Notifier.(*part)
		flaky.mu.Lock()
		flaky.results = []error{errors.New("down")}
		flaky.mu.Unlock()
		if _, err := f.Notify(context.Background(), m); err == nil {
			t.Fatal("want an error")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.done) > memoSize || len(f.order) > 2*memoSize {
		t.Errorf("memo holds %d messages (%d keys in order), bound %d", len(f.done), len(f.order), memoSize)
	}
}

// TestRegistry builds receivers from YAML against a local PagerDuty and a
// webhook endpoint, sends through the registry and reads the metrics.
func TestRegistry(t *testing.T) {
	pd := pdtest.NewServer(t)
	var hookMu sync.Mutex
	var hookBodies []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies = append(hookBodies, string(b))
		hookMu.Unlock()
	}))
	defer hook.Close()
	key := writeFile(t, "key", routingKey)
	hookURL := writeFile(t, "hook", hook.URL+"/hook/tok3n-s3cr3t-value")
	doc := `receivers:
- name: oncall
  pagerduty_configs:
  - routing_key_file: ` + key + `
    url: ` + pd.EnqueueURL() + `
  webhook_configs:
  - url_file: ` + hookURL + `
- name: blackhole
`
	rs, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r, err := New(rs, logger, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := notify.Message{IncidentID: "inc-1", Action: notify.ActionTrigger, Summary: "NodeDown r1-s1", Severity: "critical",
		Source: "r1-s1", Receiver: "oncall", Status: "firing", Timestamp: time.Unix(1000, 0)}
	if _, err := r.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	m.Action, m.Status = notify.ActionAcknowledge, "firing"
	if _, err := r.Notify(ctx, m); err != nil {
		t.Fatal(err)
	}
	if got := len(pd.Accepted()); got != 2 {
		t.Errorf("PagerDuty accepted %d events, want 2", got)
	}
	hookMu.Lock()
	if len(hookBodies) != 1 || !strings.Contains(hookBodies[0], `"receiver":"oncall"`) {
		t.Errorf("webhook got %q", hookBodies)
	}
	hookMu.Unlock()
	m.Receiver = "blackhole"
	if retry, err := r.Notify(ctx, m); retry || err != nil {
		t.Errorf("blackhole: %v %v", retry, err)
	}
	m.Receiver = "gone"
	if _, err := r.Notify(ctx, m); !errors.Is(err, ErrUnknownReceiver) {
		t.Errorf("unknown receiver: %v", err)
	}
	// PagerDuty down: the receiver asks for a retry, the webhook part is
	// not sent twice.
	pd.FailNext(1, 500, "")
	m.Receiver, m.Action, m.Timestamp = "oncall", notify.ActionTrigger, time.Unix(2000, 0)
	if retry, err := r.Notify(ctx, m); !retry || err == nil {
		t.Fatalf("retry=%v err=%v, want a retry", retry, err)
	}
	if retry, err := r.Notify(ctx, m); retry || err != nil {
		t.Fatalf("second attempt: retry=%v err=%v", retry, err)
	}
	hookMu.Lock()
	if len(hookBodies) != 2 {
		t.Errorf("webhook got %d posts, want 2", len(hookBodies))
	}
	hookMu.Unlock()

	for _, c := range []struct {
		integration, result string
		want                float64
	}{
		{"pagerduty", "sent", 3}, {"pagerduty", "retry", 1}, {"webhook", "sent", 2}, {"webhook", "skipped", 1},
	} {
		got := testutil.ToFloat64(mustCounter(t, reg, c.integration, c.result))
		if got != c.want {
			t.Errorf("requests_total{receiver=oncall,integration=%s,result=%s} = %v, want %v", c.integration, c.result, got, c.want)
		}
	}
	if n := testutil.CollectAndCount(reg, "fleetwatch_notify_request_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want 2", n)
	}
	// A reload builds again on the same registerer.
	if _, err := New(rs, logger, reg); err != nil {
		t.Errorf("rebuild on the same registerer: %v", err)
	}
	if strings.Contains(logs.String(), "s3cr3t") || strings.Contains(logs.String(), routingKey) {
		t.Errorf("secret in logs: %s", logs.String())
	}
}

func mustCounter(t *testing.T, reg *prometheus.Registry, integration, result string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != "fleetwatch_notify_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["receiver"] == "oncall" && l["integration"] == integration && l["result"] == result {
				c.Add(m.GetCounter().GetValue())
			}
		}
	}
	return c
}

func FuzzParse(f *testing.F) {
	f.Add("receivers:\n- name: a\n  webhook_configs: [{url: 'http://x/'}]\n")
	f.Add("receivers:\n- name: a\n  email_configs: []\n")
	f.Add("receivers: [{name: b, slack_configs: [{url_env: X}], pagerduty_configs: [{}]}]\n")
	f.Add("receivers: 3\n")
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = Parse([]byte(text)) // must not panic
	})
}

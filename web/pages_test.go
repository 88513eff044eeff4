package web

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// devClass is the class of host's square on the fleet page.
func devClass(page, host string) string {
	m := regexp.MustCompile(`class="([^"]*)"[^>]*title="` + regexp.QuoteMeta(host) + ` `).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return m[1]
}

var rowIDRE = regexp.MustCompile(`<tr class="state-[a-z]+" data-id="([^"]+)">`)

func TestIncidentsList(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"open by default", "", []string{"inc-dc1-node", "inc-dc2-disk"}},
		{"all", "state=all", []string{"inc-dc1-node", "inc-dc2-disk", "inc-dc1-old"}},
		{"resolved", "state=resolved", []string{"inc-dc1-old"}},
		{"two states", "state=triggered&state=resolved", []string{"inc-dc1-node", "inc-dc1-old"}},
		{"severity", "severity=critical", []string{"inc-dc1-node"}},
		{"site", "site=dc2", []string{"inc-dc2-disk"}},
		{"rack", "state=all&rack=r03", []string{"inc-dc1-old"}},
		{"route prefix", "route=root/dc2", []string{"inc-dc2-disk"}},
		{"receiver", "state=all&receiver=pagerduty-dc1", []string{"inc-dc1-node", "inc-dc1-old"}},
		{"text", "state=all&q=ntp", []string{"inc-dc1-old"}},
		{"since", "state=all&since=35m", []string{"inc-dc2-disk"}},
		{"limit", "state=all&limit=1", []string{"inc-dc2-disk"}},
		{"nothing", "site=dc9", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := get(t, c, f.srv.URL+"/incidents?"+tc.query)
			if code != http.StatusOK {
				t.Fatalf("status %d:\n%s", code, body)
			}
			var got []string
			for _, m := range rowIDRE.FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("incidents shown = %v, want %v", got, want)
			}
		})
	}
	code, body, _ := get(t, c, f.srv.URL+"/incidents")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	checkGolden(t, "incidents.html", fragment(t, body, `<section id="incidents"`, `</section>`))
}

func TestIncidentsListBadFilter(t *testing.T) {
	f := newFixture(t, nil)
	for _, tc := range []struct{ query, want string }{
		{"state=burning", `parameter state: &#34;burning&#34; is not one of open, triggered, acknowledged, resolved, all`},
		{"severity=meh", `parameter severity: &#34;meh&#34; is not one of critical, error, warning, info`},
		{"since=yesterday", `parameter since: &#34;yesterday&#34; is not a duration`},
		{"limit=0", `parameter limit: &#34;0&#34; is not a number between 1 and 2000`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, body, _ := get(t, f.client(t), f.srv.URL+"/incidents?"+tc.query)
			if code != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want 400 with %q:\n%s", code, tc.want, body)
			}
		})
	}
}

func TestIncidentPage(t *testing.T) {
	f := newFixture(t, nil)
	code, body, hdr := get(t, f.client(t), f.srv.URL+"/incidents/inc-dc1-node")
	if code != http.StatusOK {
		t.Fatalf("status %d:\n%s", code, body)
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	for _, want := range []string{
		`id="incident-state">triggered<`,
		`switch sw-r12 port Et49 down`,
		`id="ack"`, `id="resolve"`,
		`/incidents/inc-dc1-node/remediations/1/approve`,
		`href="/api/v1/incidents/inc-dc1-node/postmortem?format=html"`,
		`load &lt;b&gt;high&lt;/b&gt; on srv-a2`, // annotations are escaped
		`looking at &lt;sw-r12&gt; &amp; its optics`,
		`<svg class="graph"`,
		`value="{alertname=&#34;NodeDown&#34;, rack=&#34;r12&#34;, site=&#34;dc1&#34;}"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("incident page lacks %s", want)
		}
	}
	if strings.Contains(body, "<b>high</b>") {
		t.Error("annotation HTML was not escaped")
	}
	f.q.mu.Lock()
	exprs := slices.Clone(f.q.exprs)
	f.q.mu.Unlock()
	slices.Sort(exprs)
	if want := []string{`ALERTS{alertname="NodeHighLoad"}`, `up{job="node"} == 0`}; !slices.Equal(exprs, want) {
		t.Errorf("graphed %q, want %q", exprs, want)
	}
	checkGolden(t, "incident_timeline.html", fragment(t, body, `<table class="dense" id="timeline">`, `</table>`))
	checkGolden(t, "incident_alerts.html", fragment(t, body, `<section class="alerts">`, `</section>`))
}

func TestIncidentPageGraphError(t *testing.T) {
	f := newFixture(t, nil)
	f.q.fail = fmt.Errorf("query timed out")
	code, body, _ := get(t, f.client(t), f.srv.URL+"/incidents/inc-dc1-node")
	if code != http.StatusOK || !strings.Contains(body, "query timed out") {
		t.Errorf("a failing query must show its error and keep the page: status %d", code)
	}
}

func TestUnknownIncident(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	code, body, _ := get(t, c, f.srv.URL+"/incidents/inc-nope")
	if code != http.StatusNotFound || !strings.Contains(body, `Incident &#34;inc-nope&#34; does not exist`) {
		t.Errorf("GET unknown incident: status %d:\n%s", code, body)
	}
	_, page, _ := get(t, c, f.srv.URL+"/incidents/inc-dc1-node")
	code, body, _ = post(t, c, f.srv.URL+"/incidents/inc-nope/ack", formOf("csrf", csrfOf(t, page)))
	if code != http.StatusNotFound || !strings.Contains(body, `incident &#34;inc-nope&#34;: not found`) {
		t.Errorf("POST ack of unknown incident: status %d:\n%s", code, body)
	}
}

func TestBoundedTimeline(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	// 10,000 events: two alerts flapping, traps from 1,000 ports, notes.
	err := f.st.Update(ctx, func(tx store.Tx) error {
		for i := range 10000 {
			e := store.TimelineEvent{IncidentID: "inc-dc1-old", Time: at(-50).Add(time.Duration(i) * 100 * time.Millisecond), Actor: "fleetwatch"}
			switch i % 4 {
			case 0, 1:
				e.Kind, e.Summary = store.EventAlertFiring, "flap"
				e.Labels = map[string]string{"alertname": "Flap", "instance": fmt.Sprintf("srv-%d", i%2)}
			case 2:
				e.Kind, e.Summary = store.EventExternal, fmt.Sprintf("linkDown port %d", i%1000)
			case 3:
				e.Kind, e.Summary, e.Actor = store.EventNote, fmt.Sprintf("note %d", i), "user:bob"
			}
			if _, err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ := get(t, f.client(t), f.srv.URL+"/incidents/inc-dc1-old")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	rows := strings.Count(body, `<tr class="ev `)
	if rows > timelineRows {
		t.Errorf("%d timeline rows shown, want at most %d", rows, timelineRows)
	}
	if !strings.Contains(body, "10000 events") || !strings.Contains(body, "rows between") {
		t.Error("the page must say how many events there are and that rows were left out")
	}
	if !strings.Contains(body, "×2500, fired 2500 times") {
		t.Error("a flapping alert must collapse into one line with its count")
	}
	if len(body) > 400<<10 {
		t.Errorf("page is %d bytes for 10,000 events; want a bounded size under 400 KiB", len(body))
	}
	t.Logf("10,000 events: %d rows, %d bytes", rows, len(body))
}

func TestSilencesPage(t *testing.T) {
	f := newFixture(t, nil)
	code, body, _ := get(t, f.client(t), f.srv.URL+"/silences?matchers="+`%7Brack%3D%22r12%22%7D`)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{`data-id="sil-active"`, `data-id="sil-pending"`, `data-id="sil-expired"`,
		`{alertname=&#34;NTPDrift&#34;, site=~&#34;dc1|dc3&#34;}`, `{instance!=&#34;srv-z9&#34;}`,
		`name="matchers" value="{rack=&#34;r12&#34;}"`, `/silences/sil-active/expire`} {
		if !strings.Contains(body, want) {
			t.Errorf("silences page lacks %s", want)
		}
	}
	if strings.Contains(body, `/silences/sil-expired/expire`) {
		t.Error("an expired silence must not offer Expire")
	}
	checkGolden(t, "silences.html", fragment(t, body, `<section class="silences">`, `</section>`))
}

func TestFleetPage(t *testing.T) {
	f := newFixture(t, nil)
	code, body, _ := get(t, f.client(t), f.srv.URL+"/fleet")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	for host, class := range map[string]string{
		"srv-a1": "dev down server", // up == 0
		"srv-a2": "dev ok server",   // its alert resolved, up == 1
		"srv-a3": "dev maint server",
		"srv-a4": "dev ok server",
		"srv-b7": "dev warn server", // DiskFilling warning
		"srv-b8": "dev decom server",
		"sw-r12": "dev ok switch",
	} {
		if got := devClass(body, host); got != class {
			t.Errorf("%s is drawn as %q, want %q", host, got, class)
		}
	}
	checkGolden(t, "fleet.html", fragment(t, body, `<section class="site" id="site-dc1">`, `</section>`))

	_, body, _ = get(t, f.client(t), f.srv.URL+"/fleet?site=dc2")
	if strings.Contains(body, "srv-a1") || !strings.Contains(body, "srv-b7") {
		t.Error("site filter does not keep only dc2")
	}
}

func TestTargetsPage(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	for _, tc := range []struct {
		query      string
		code       int
		want, lack []string
	}{
		{"", 200, []string{"srv-a1:9100", "srv-a2:9100", "srv-a1-bmc:443", "connection refused", "1 not up"}, nil},
		{"job=bmc", 200, []string{"srv-a1-bmc:443"}, []string{"srv-a2:9100"}},
		{"health=down", 200, []string{"srv-a1:9100"}, []string{"srv-a2:9100", "srv-a1-bmc:443"}},
		{"health=sideways", 400, []string{`parameter health: &#34;sideways&#34;`}, nil},
	} {
		t.Run(tc.query, func(t *testing.T) {
			code, body, _ := get(t, c, f.srv.URL+"/targets?"+tc.query)
			if code != tc.code {
				t.Fatalf("status %d, want %d", code, tc.code)
			}
			table := body
			if i := strings.Index(body, `<table class="dense targets">`); i >= 0 {
				table = body[i:]
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("lacks %q", w)
				}
			}
			for _, l := range tc.lack {
				if strings.Contains(table, l) {
					t.Errorf("shows %q", l)
				}
			}
		})
	}
}

func TestNotWired(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.Actions, o.Querier, o.Inventory, o.Targets = nil, nil, nil, nil })
	c := f.client(t)
	_, body, _ := get(t, c, f.srv.URL+"/incidents/inc-dc1-node")
	if strings.Contains(body, `id="ack"`) {
		t.Error("without Actions the page must show no action buttons")
	}
	code, body, _ := post(t, c, f.srv.URL+"/incidents/inc-dc1-node/ack", nil, "Authorization", "Bearer any")
	if code != http.StatusNotImplemented || !strings.Contains(body, "actions are not available") {
		t.Errorf("POST without Actions: status %d, want 501", code)
	}
	for _, p := range []string{"/fleet", "/targets"} {
		if code, _, _ := get(t, c, f.srv.URL+p); code != http.StatusOK {
			t.Errorf("%s without its source: status %d", p, code)
		}
	}
}

func TestSelfMetrics(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	get(t, c, f.srv.URL+"/incidents")
	get(t, c, f.srv.URL+"/incidents/inc-nope")
	if n := testutil.ToFloat64(f.ui.metrics.requests.WithLabelValues("incidents", "200")); n != 1 {
		t.Errorf(`requests{page="incidents",code="200"} = %v`, n)
	}
	if n := testutil.ToFloat64(f.ui.metrics.requests.WithLabelValues("incident", "404")); n != 1 {
		t.Errorf(`requests{page="incident",code="404"} = %v`, n)
	}
	mfs, err := f.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	for _, want := range []string{"fleetwatch_web_requests_total", "fleetwatch_web_request_duration_seconds", "fleetwatch_web_login_failures_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s is not registered (have %v)", want, names)
		}
	}
	if _, err := New(Options{Store: f.st, Registerer: f.reg}); err == nil {
		t.Error("a second UI on the same registry must be refused")
	}
}

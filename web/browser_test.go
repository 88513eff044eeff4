package web

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// artifactDir is where the browser test writes its screenshots:
// $FLEETWATCH_TEST_ARTIFACTS/web if set (CI keeps it), else a temporary
// directory.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("FLEETWATCH_TEST_ARTIFACTS"); d != "" {
		dir := filepath.Join(d, "web")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// browser starts Debian's chromium headless through the DevTools protocol
// and returns a context for its tab, bounded to 2 minutes.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := testpeer.Need(t, "chromium")
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelCtx := chromedp.NewContext(actx)
	// The first call starts the browser: no timeout on it (a timeout
	// there would end the browser with it).
	if err := chromedp.Do(bctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	return ctx
}

type css = chromedp.CSS

// TestBrowser logs in with a token, opens the incidents list and an
// incident, acknowledges it with the button, and checks the change in the
// store and through HTTP; the list's auto-refresh picks up a change made
// elsewhere. Screenshots of each step are kept.
func TestBrowser(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Auth = StaticTokens{"oncall-secret": {Name: "alice"}}
		o.RefreshInterval = time.Second
	})
	ctx := browser(t)
	dir := artifactDir(t)
	t.Logf("screenshots in %s", dir)
	fail := func(what string, err error) {
		t.Helper()
		html, _ := chromedp.Run(ctx, chromedp.OuterHTML(css("html")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, html)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			fail(what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			fail("text of "+sel, err)
		}
		return strings.TrimSpace(v)
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		if err != nil {
			fail("location", err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			fail("screenshot "+name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	do("open the list", chromedp.Navigate(f.srv.URL+"/incidents"), chromedp.WaitVisible(css("#login-form")))
	if loc := location(); !strings.Contains(loc, "/login?next=%2Fincidents") {
		t.Errorf("not sent to the login form: %s", loc)
	}
	shot("00-login.png")
	do("log in", chromedp.SendKeys(css("#token"), "oncall-secret"), chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#incidents")))
	rows, user := text("#incidents tbody"), text("#user")
	shot("01-incidents.png")
	if user != "alice" || !strings.Contains(rows, "NodeDown: srv-a1 (dc1/r12)") || !strings.Contains(rows, "DiskFilling: srv-b7 /var") || strings.Contains(rows, "NTPDrift") {
		t.Errorf("incidents list as %q shows:\n%s", user, rows)
	}

	do("open the incident", chromedp.Click(css(`a[href="/incidents/inc-dc1-node"]`)), chromedp.WaitVisible(css("#ack")))
	state := text("#incident-state")
	polylines, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.graph polyline").length`))
	if err != nil {
		fail("count graph lines", err)
	}
	shot("02-incident.png")
	if !strings.EqualFold(state, "triggered") || polylines == 0 {
		t.Errorf("incident page: state %q, %d graph lines", state, polylines)
	}

	do("acknowledge", chromedp.Click(css("#ack")), chromedp.WaitVisible(css("#done")))
	done, acked, loc := text("#done"), text("#acked"), location()
	state = text("#incident-state")
	shot("03-acknowledged.png")
	if done != "Acknowledged." || !strings.EqualFold(state, "acknowledged") || !strings.Contains(acked, "by alice") {
		t.Errorf("after the click: %q, state %q, acked %q", done, state, acked)
	}
	if !strings.HasSuffix(loc, "/incidents/inc-dc1-node?done=ack") {
		t.Errorf("after the click the browser is at %s", loc)
	}
	// The change went through Actions into the store …
	if calls := f.actions.Calls(); !slices.Equal(calls, []string{"ack inc-dc1-node user:alice"}) {
		t.Errorf("Actions calls = %q", calls)
	}
	inc, err := f.st.GetIncident(context.Background(), "inc-dc1-node")
	if err != nil || inc.State != store.Acknowledged || inc.Assignee != "alice" {
		t.Errorf("stored incident: %+v %v", inc, err)
	}
	// … and an API client with the same token sees it.
	code, body, _ := get(t, f.client(t), f.srv.URL+"/incidents/inc-dc1-node", "Authorization", "Bearer oncall-secret")
	if code != 200 || !strings.Contains(body, `id="incident-state">acknowledged<`) {
		t.Errorf("HTTP view after the ack: status %d", code)
	}

	// Auto-refresh: an incident resolved elsewhere leaves the open list
	// without a reload.
	do("back to the list", chromedp.Navigate(f.srv.URL+"/incidents"), chromedp.WaitVisible(css(`tr[data-id="inc-dc2-disk"]`)))
	if err := f.actions.Resolve(context.Background(), "inc-dc2-disk", "user:bob"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(wctx, chromedp.WaitNotPresent(css(`tr[data-id="inc-dc2-disk"]`))); err != nil {
		t.Errorf("the list did not refresh itself: %v", err)
	}
	shot("04-incidents-refreshed.png")
	for _, p := range []struct{ path, sel, file string }{
		{"/fleet", "#site-dc1", "05-fleet.png"},
		{"/silences", ".silences", "06-silences.png"},
		{"/targets", "table.targets", "07-targets.png"},
		{"/incidents/does-not-exist", "#error-message", "08-not-found.png"},
	} {
		do("open "+p.path, chromedp.Navigate(f.srv.URL+p.path), chromedp.WaitVisible(css(p.sel)))
		shot(p.file)
	}
	if msg := text("#error-message"); !strings.Contains(msg, `Incident "does-not-exist" does not exist`) {
		t.Errorf("404 page says %q", msg)
	}
	for _, n := range []string{"01-incidents.png", "02-incident.png", "03-acknowledged.png", "05-fleet.png"} {
		if st, err := os.Stat(filepath.Join(dir, n)); err != nil || st.Size() < 5000 {
			t.Errorf("screenshot %s missing or empty: %v", n, err)
		}
	}
}

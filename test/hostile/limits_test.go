package hostile

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	mib = 1 << 20
	// The limits fleetwatch applies (alerter/amapi.MaxBody, the 1 MiB of
	// the silence and incident bodies, net/http's 10 MB form limit).
	alertsLimit = 32 * mib
	smallLimit  = 1 * mib
	formLimit   = 10 << 20
)

// TestBodyLimits finds each endpoint's limit from outside: a valid body
// padded with white space to just under it is read in full and handled;
// just over it gets 413 (the client is told the body is too large, not
// that its JSON is broken), and nothing of it is stored.
func TestBodyLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	_, c := startPlain(t)
	if code, b := c.postJSON(t, "/api/v2/alerts", `[{"labels":{"alertname":"LimitSeed"}}]`); code != http.StatusOK {
		t.Fatalf("seed: %d %s", code, clip(b))
	}
	seed := c.waitIncident(t, "LimitSeed")
	for _, tc := range []struct {
		name, path, ctype string
		limit             int
		body              func(tag string) string
		under             int // status for a body just under the limit
	}{
		{"alerts", "/api/v2/alerts", "application/json", alertsLimit,
			func(tag string) string { return `[{"labels":{"alertname":"` + tag + `"}}]` }, http.StatusOK},
		{"events", "/api/v1/events", "application/json", alertsLimit,
			func(tag string) string { return `{"kind":"` + tag + `","labels":{"server":"s1"}}` }, http.StatusOK},
		{"silences", "/api/v2/silences", "application/json", smallLimit,
			func(tag string) string {
				return `{"matchers":[{"name":"alertname","value":"` + tag + `"}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"t","comment":"` + tag + `"}`
			}, http.StatusOK},
		{"notes", "/api/v1/incidents/" + seed.ID + "/notes", "application/json", smallLimit,
			func(tag string) string { return `{"text":"` + tag + `"}` }, http.StatusCreated},
		{"resolve (unknown incident)", "/api/v1/incidents/nosuchincident/resolve", "application/json", smallLimit,
			func(tag string) string { return `{"reason":"` + tag + `"}` }, http.StatusNotFound},
		{"UI note form", "/incidents/" + seed.ID + "/note", "application/x-www-form-urlencoded", formLimit,
			func(tag string) string { return "&text=" + tag }, http.StatusOK},
		{"query form", "/api/v1/query", "application/x-www-form-urlencoded", formLimit,
			func(tag string) string { return "&query=" + tag }, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			underTag, overTag := "under"+strings.ReplaceAll(tc.name, " ", ""), "over"+strings.ReplaceAll(tc.name, " ", "")
			if tc.path == "/api/v1/query" {
				underTag, overTag = "vector(1)", "vector(2)"
			}
			code, b := c.do(http.MethodPost, tc.path, tc.ctype, padded(tc.body(underTag), tc.limit-1024))
			if code != tc.under {
				t.Errorf("%d bytes (under the %d-byte limit): status %d, want %d; %s", tc.limit-1024, tc.limit, code, tc.under, clip(b))
			}
			code, b = c.do(http.MethodPost, tc.path, tc.ctype, padded(tc.body(overTag), tc.limit+1024))
			if code != http.StatusRequestEntityTooLarge {
				t.Errorf("%d bytes (over the %d-byte limit): status %d, want 413; %s", tc.limit+1024, tc.limit, code, clip(b))
			}
			if strings.HasPrefix(overTag, "over") && strings.Contains(c.snapshot(t), overTag) {
				t.Errorf("the oversized request was stored")
			}
		})
	}
}

// TestHugeBodiesBoundedMemory posts 100 MB bodies, four at a time, to every
// JSON endpoint: each gets 413, the process's RSS stays bounded while they
// arrive (fleetwatch reads at most its limit, never the whole body), and
// comes back down afterwards.
func TestHugeBodiesBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	srv, c := startPlain(t)
	time.Sleep(2 * time.Second) // let start-up allocations settle
	p0, err := srv.Proc()
	if err != nil {
		t.Fatal(err)
	}
	var peak int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if p, err := srv.Proc(); err == nil && p.RSSBytes > peak {
					peak = p.RSSBytes
				}
			}
		}
	}()
	paths := []string{"/api/v2/alerts", "/api/v1/events", "/api/v2/silences", "/api/v1/incidents/x/notes", "/api/v1/incidents/x/resolve"}
	for _, path := range paths {
		var wg sync.WaitGroup
		codes := make([]int, 4)
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = c.do(http.MethodPost, path, "application/json", io.Reader(&zeros{left: 100 * 1000 * 1000}))
			}()
		}
		wg.Wait()
		for i, code := range codes {
			if code != http.StatusRequestEntityTooLarge {
				t.Errorf("POST %s, 100 MB body #%d: status %d, want 413", path, i, code)
			}
		}
	}
	close(stop)
	<-sampled
	// Four bodies at a time, each read up to the 32 MiB limit into a buffer
	// that may double while growing, plus decoding: 4 × 2 × 32 MiB + slack.
	const peakBound = 4*2*alertsLimit + 128*mib
	t.Logf("RSS before %d MiB, peak %d MiB (bound +%d MiB)", p0.RSSBytes/mib, peak/mib, peakBound/mib)
	if peak-p0.RSSBytes > peakBound {
		t.Errorf("RSS grew by %d MiB while refusing 100 MB bodies, bound %d MiB", (peak-p0.RSSBytes)/mib, peakBound/mib)
	}
	// Afterwards the memory goes back: Go's scavenger returns freed pages
	// within seconds; wait for it rather than timing it.
	const settleBound = 96 * mib
	var last int64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		_, _ = c.do(http.MethodGet, "/debug/pprof/heap?gc=1", "", nil) // runs a GC
		p, err := srv.Proc()
		if err != nil {
			t.Fatal(err)
		}
		last = p.RSSBytes
		if last-p0.RSSBytes < settleBound {
			break
		}
	}
	t.Logf("RSS after %d MiB", last/mib)
	if last-p0.RSSBytes >= settleBound {
		t.Errorf("RSS stays %d MiB above where it started, bound %d MiB", (last-p0.RSSBytes)/mib, settleBound/mib)
	}
	if srv.Exited() {
		t.Fatal("fleetwatch exited")
	}
	if code, _ := c.do(http.MethodGet, "/-/healthy", "", nil); code != http.StatusOK {
		t.Errorf("/-/healthy after the huge bodies: %d", code)
	}
}

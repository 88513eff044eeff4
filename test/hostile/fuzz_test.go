package hostile

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzPostBodies posts generated bodies to every JSON endpoint of one
// fleetwatch started for the whole fuzz run. Whatever the body, the answer
// is a 2xx or a 4xx with a message, never a 5xx or a dropped connection,
// and fleetwatch keeps running.
//
//	go test ./test/hostile -run XXX -fuzz FuzzPostBodies -fuzztime 60s
func FuzzPostBodies(f *testing.F) {
	if testing.Short() {
		f.Skip("builds and runs the binary")
	}
	for _, s := range []string{
		`[{"labels":{"alertname":"a"}}]`,
		`{"kind":"deploy","labels":{"server":"s"}}`,
		`{"matchers":[{"name":"a","value":"b"}],"startsAt":"2030-01-01T00:00:00Z","endsAt":"2030-01-02T00:00:00Z","createdBy":"c","comment":"d"}`,
		`{"text":"t"}`, `{"reason":"r"}`, `[`, `{"labels":{"a":[[[1]]]}}`, "\xff",
	} {
		for ep := range uint8(5) {
			f.Add(ep, []byte(s))
		}
	}
	srv, c := startPlain(f)
	endpoints := []string{"/api/v2/alerts", "/api/v1/events", "/api/v2/silences", "/api/v1/incidents/nosuch/notes", "/api/v1/incidents/nosuch/resolve"}
	f.Fuzz(func(t *testing.T, ep uint8, body []byte) {
		path := endpoints[int(ep)%len(endpoints)]
		code, b := c.do(http.MethodPost, path, "application/json", strings.NewReader(string(body)))
		if code == 0 || code >= 500 {
			t.Fatalf("POST %s %q: status %d %s", path, clip(body), code, clip(b))
		}
		if code >= 400 && len(strings.TrimSpace(string(b))) == 0 {
			t.Fatalf("POST %s %q: %d without a message", path, clip(body), code)
		}
		if srv.Exited() {
			t.Fatalf("fleetwatch exited after POST %s %q", path, clip(body))
		}
	})
}

package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi/exprdepth"
)

// rawPost sends body as it is (no re-encoding) with a bearer header, which
// stands in for the CSRF token, and returns the status and the page.
func rawPost(t testing.TB, u, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer any")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostileForms posts forms a browser would not send: invalid UTF-8
// (which url.ParseQuery decodes without complaint), broken escapes, and
// bodies over the limit. Each is refused with a page naming the field or
// the limit, and no action reaches the alerter.
func TestHostileForms(t *testing.T) {
	// pad makes a form of size bytes: a long field no handler reads, then
	// the fields.
	pad := func(size int, fields string) string {
		return "pad=" + strings.Repeat("x", max(size-len(fields)-5, 0)) + "&" + fields
	}
	const serverLimit = 1 << 20
	for _, tc := range []struct {
		name, path, body string
		// maxBytes wraps the body in http.MaxBytesReader, as a server
		// may; 0 leaves net/http's 10 MiB form limit.
		maxBytes int64
		code     int
		want     string // in the page
		call     string // the Actions call expected ("" none)
	}{
		{name: "note with invalid UTF-8", path: "/incidents/inc-dc1-node/note", body: "text=optics%ff%fe",
			code: 400, want: "field text: the value is not valid UTF-8"},
		{name: "silence comment with invalid UTF-8", path: "/silences",
			body: "matchers=%7Bsite%3D%22dc2%22%7D&comment=power%ff", code: 400, want: "field comment: the value is not valid UTF-8"},
		{name: "silence matchers with an overlong dot", path: "/incidents/inc-dc1-node/silence",
			body: "matchers=%7Bsite%3D%22%c0%ae%22%7D&comment=x", code: 400, want: "field matchers: the value is not valid UTF-8"},
		{name: "field name with invalid UTF-8", path: "/incidents/inc-dc1-node/ack", body: "%ff=1",
			code: 400, want: `a field name is not valid UTF-8: &#34;\xff&#34;`},
		{name: "invalid UTF-8 in the query string", path: "/incidents/inc-dc1-node/resolve?x=%ff", body: "",
			code: 400, want: "field x: the value is not valid UTF-8"},
		{name: "broken escape", path: "/incidents/inc-dc1-node/note", body: "text=%zz",
			code: 400, want: "Reading the form failed: invalid URL escape"},
		{name: "note just under 10 MiB", path: "/incidents/inc-dc1-node/note", body: pad(formLimit-1024, "text=optics"),
			code: 303, call: `note inc-dc1-node user:anonymous "optics"`},
		{name: "note over 10 MiB", path: "/incidents/inc-dc1-node/note", body: pad(formLimit+1024, "text=optics"),
			code: 413, want: "The form is larger than the limit of 10485760 bytes"},
		{name: "silence over 10 MiB", path: "/silences", body: pad(formLimit+1024, "matchers=%7Bsite%3D%22dc2%22%7D&comment=x"),
			code: 413, want: "larger than the limit of 10485760 bytes"},
		{name: "note under the server's limit", path: "/incidents/inc-dc1-node/note", body: pad(serverLimit-1024, "text=optics"),
			maxBytes: serverLimit, code: 303, call: `note inc-dc1-node user:anonymous "optics"`},
		{name: "note over the server's limit", path: "/incidents/inc-dc1-node/note", body: pad(serverLimit+1024, "text=optics"),
			maxBytes: serverLimit, code: 413, want: "The form is larger than the limit of 1048576 bytes"},
		{name: "login with invalid UTF-8", path: "/login", body: "token=%ff", code: 400, want: "field token: the value is not valid UTF-8"},
		{name: "valid UTF-8 passes", path: "/incidents/inc-dc1-node/note", body: "text=" + url.QueryEscape("Glasfaser getauscht ✓"),
			code: 303, call: `note inc-dc1-node user:anonymous "Glasfaser getauscht ✓"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			base := f.srv.URL
			if tc.maxBytes > 0 {
				h := f.ui.Handler()
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					r.Body = http.MaxBytesReader(w, r.Body, tc.maxBytes)
					h.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				base = srv.URL
			}
			code, page := rawPost(t, base+tc.path, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d:\n%.2000s", code, tc.code, page)
			}
			if tc.want != "" && !strings.Contains(page, tc.want) {
				t.Errorf("page lacks %q:\n%.2000s", tc.want, page)
			}
			calls := f.actions.Calls()
			if tc.call == "" && len(calls) != 0 || tc.call != "" && (len(calls) != 1 || calls[0] != tc.call) {
				t.Errorf("Actions calls = %q, want %q", calls, tc.call)
			}
		})
	}
}

// TestStaticPaths asks the asset handler for paths the embedded file
// system cannot hold: 404, never 500, and never anything but an asset.
func TestStaticPaths(t *testing.T) {
	f := newFixture(t, nil)
	c := f.client(t)
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/static/style.css", 200},
		{"/static/app.js", 200},
		{"/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", 404},
		{"/static/x/%c0%ae%c0%ae/style.css", 404},
		{"/static/%ff", 404},
		{"/static/style.css%00", 404},
		{"/static/..%5c..%5cetc%5cpasswd", 404},
		{"/static/nope.css", 404},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body, _ := get(t, c, f.srv.URL+tc.path)
			if code != tc.code {
				t.Errorf("GET %s: %d, want %d: %.300s", tc.path, code, tc.code, body)
			}
			if strings.Contains(body, "root:") {
				t.Errorf("GET %s served a system file", tc.path)
			}
		})
	}
}

// TestEngineQuerierDepth: an alert's generator URL may carry any
// expression; one nested past exprdepth's limit is refused before the
// engine parses it, with an error that names the limit and stays short.
func TestEngineQuerierDepth(t *testing.T) {
	empty := storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil })
	q := EngineQuerier(promapi.NewEngine(promapi.EngineOptions{}, nil, nil), empty)
	deep := strings.Repeat("(", 100000) + "up" + strings.Repeat(")", 100000)
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"instant", func() error { _, err := q.Query(context.Background(), deep, testNow); return err }},
		{"range", func() error {
			_, err := q.QueryRange(context.Background(), deep, at(-60), testNow, 60e9)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if !errors.Is(err, exprdepth.ErrTooDeep) {
				t.Fatalf("error %v, want exprdepth.ErrTooDeep", err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes: the expression must be clipped", len(err.Error()))
			}
		})
	}
	if _, err := q.Query(context.Background(), strings.Repeat("(", 999)+"1"+strings.Repeat(")", 999), testNow); err != nil {
		t.Errorf("999 levels are within the limit: %v", err)
	}
}

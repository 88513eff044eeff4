package promapi

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func nested(open, close, inner string, n int) string {
	return strings.Repeat(open, n) + inner + strings.Repeat(close, n)
}

// TestHostileQueries sends expressions nested deeply enough to cost the
// PromQL parser minutes: each is refused up front with bad_data naming the
// parameter and the limit, while an expression just within the limit is
// still answered.
func TestHostileQueries(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	api := newTestAPI(t, db, EngineOptions{})
	deepParens := nested("(", ")", "1", 100000)
	chain := strings.Repeat("up + ", 100000) + "up"
	rangeForm := func(q string) []string {
		return []string{"query", q, "start", startUnix, "end", nowUnix, "step", "60"}
	}
	for _, tc := range []struct {
		name, method, path string
		form               []string
		code               int
		// errWants are substrings of the error message.
		errWants []string
	}{
		{"query, 100,000 parentheses", "GET", "/api/v1/query", []string{"query", deepParens}, 400,
			[]string{`invalid parameter "query"`, "1:1000:", "more than 1000 levels"}},
		{"query POST, 100,000 parentheses", "POST", "/api/v1/query", []string{"query", deepParens}, 400,
			[]string{`invalid parameter "query"`, "more than 1000 levels"}},
		{"query, 100,000 chained operators", "POST", "/api/v1/query", []string{"query", chain}, 400,
			[]string{`invalid parameter "query"`, "more than 1000 levels"}},
		{"query, 100,000 nested calls", "POST", "/api/v1/query", []string{"query", nested("abs(", ")", "up", 100000)}, 400,
			[]string{"more than 1000 levels"}},
		{"query, wide and deep", "POST", "/api/v1/query", []string{"query", "clamp(" + strings.Repeat(nested("(", ")", "1", 990)+",", 200) + "1)"}, 400,
			[]string{`invalid parameter "query"`, "expression too complex", "10000000"}},
		{"query_range, 100,000 parentheses", "POST", "/api/v1/query_range", rangeForm(deepParens), 400,
			[]string{`invalid parameter "query"`, "more than 1000 levels"}},
		{"format_query, 100,000 parentheses", "POST", "/api/v1/format_query", []string{"query", deepParens}, 400,
			[]string{`invalid parameter "query"`, "more than 1000 levels"}},
		{"query_exemplars, 100,000 parentheses", "POST", "/api/v1/query_exemplars", []string{"query", deepParens}, 400,
			[]string{"more than 1000 levels"}},
		{"series, nested match[]", "POST", "/api/v1/series", []string{"match[]", "up", "match[]", nested("(", ")", "up", 100000)}, 400,
			[]string{`invalid parameter "match[]"`, "more than 1000 levels"}},
		{"labels, nested match[]", "POST", "/api/v1/labels", []string{"match[]", nested("(", ")", `{job="node"}`, 100000)}, 400,
			[]string{"more than 1000 levels"}},
		{"label values, nested match[]", "GET", "/api/v1/label/job/values", []string{"match[]", nested("(", ")", "up", 5000)}, 400,
			[]string{"more than 1000 levels"}},
		{"query within the limit", "POST", "/api/v1/query", []string{"query", nested("(", ")", "1", 999), "time", nowUnix}, 200, nil},
		{"query range within the limit", "POST", "/api/v1/query_range", rangeForm(strings.Repeat("up + ", 998) + "up"), 200, nil},
		{"brackets in a string do not count", "POST", "/api/v1/query", []string{"query", `up{job!="` + strings.Repeat("(", 5000) + `"}`, "time", nowUnix}, 200, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := do(t, api.srv.URL, tc.method, tc.path, form(tc.form...))
			if code != tc.code {
				t.Fatalf("HTTP %d, want %d: %.300s", code, tc.code, body)
			}
			r := decode(t, body)
			if tc.code == 200 {
				if r.Status != "success" {
					t.Errorf("status %q, want success: %.300s", r.Status, body)
				}
				return
			}
			if r.Status != "error" || r.ErrorType != "bad_data" {
				t.Errorf("status %q errorType %q, want error bad_data", r.Status, r.ErrorType)
			}
			for _, w := range tc.errWants {
				if !strings.Contains(r.Error, w) {
					t.Errorf("error %q does not contain %q", r.Error, w)
				}
			}
		})
	}
	t.Run("federate, nested match[]", func(t *testing.T) {
		code, body := do(t, api.srv.URL, "GET", "/federate", form("match[]", nested("(", ")", "up", 5000)))
		if code != http.StatusBadRequest || !strings.Contains(string(body), "more than 1000 levels") {
			t.Errorf("HTTP %d %.300s, want 400 naming the limit", code, body)
		}
	})
}

// TestOversizedBodies posts form bodies just under and just over the
// limits: net/http's 10 MiB for forms, and a smaller limit the server sets
// with http.MaxBytesReader. Over either, the answer is 413 with
// Prometheus' error JSON (errorType bad_data) naming the limit in bytes.
func TestOversizedBodies(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	plain := newTestAPI(t, db, EngineOptions{}).srv.URL
	const serverLimit = 1 << 20
	mux := http.NewServeMux()
	New(Options{Queryable: db, Engine: NewEngine(EngineOptions{}, nil, nil), Now: func() time.Time { return testNow }}).Register(mux)
	limited := httpTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, serverLimit)
		mux.ServeHTTP(w, r)
	}))
	// padded is a form body of size bytes: a long parameter the API
	// ignores, then params.
	padded := func(size int, params string) string {
		if size == 0 {
			return params
		}
		return "pad=" + strings.Repeat("x", max(size-len(params)-5, 0)) + "&" + params
	}
	const (
		instant = "query=vector(1)&time=" + nowUnix
		ranged  = "query=vector(1)&start=" + startUnix + "&end=" + nowUnix + "&step=60"
	)
	for _, tc := range []struct {
		name, base, path, params string
		size, code               int
		errWant                  string
	}{
		{"query under 10 MiB", plain, "/api/v1/query", instant, formLimit - 1024, 200, ""},
		{"query over 10 MiB", plain, "/api/v1/query", instant, formLimit + 1024, 413, "larger than the limit of 10485760 bytes"},
		{"query_range over 10 MiB", plain, "/api/v1/query_range", ranged, formLimit + 1024, 413, "larger than the limit of 10485760 bytes"},
		{"series over 10 MiB", plain, "/api/v1/series", "match[]=up", formLimit + 1024, 413, "larger than the limit of 10485760 bytes"},
		{"query under the server's 1 MiB", limited, "/api/v1/query", instant, serverLimit - 1024, 200, ""},
		{"query over the server's 1 MiB", limited, "/api/v1/query", instant, serverLimit + 1024, 413, "larger than the limit of 1048576 bytes"},
		{"malformed form is still 400", plain, "/api/v1/query", "query=%zz", 0, 400, "invalid URL escape"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(tc.base+tc.path, "application/x-www-form-urlencoded", strings.NewReader(padded(tc.size, tc.params)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code {
				t.Fatalf("HTTP %d, want %d: %.300s", resp.StatusCode, tc.code, b)
			}
			r := decode(t, b)
			if tc.code == 200 {
				if r.Status != "success" {
					t.Errorf("status %q: %.300s", r.Status, b)
				}
				return
			}
			if r.Status != "error" || r.ErrorType != "bad_data" || !strings.Contains(r.Error, tc.errWant) {
				t.Errorf("got %+v, want bad_data naming %q", r, tc.errWant)
			}
		})
	}
}

// BenchmarkDeepQuery measures a POST /api/v1/query of 20,000 nested
// parentheses (refused by the depth check) against one of 999 (within the
// limit, parsed and evaluated) and an ordinary query.
func BenchmarkDeepQuery(b *testing.B) {
	db := openDB(b)
	fillTestDB(b, db)
	api := newTestAPI(b, db, EngineOptions{})
	for _, bc := range []struct {
		name, query string
		code        int
	}{
		{"refused 20000 levels", nested("(", ")", "1", 20000), 400},
		{"parsed 999 levels", nested("(", ")", "1", 999), 200},
		{"ordinary", `sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))`, 200},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := form("query", bc.query, "time", nowUnix)
			for b.Loop() {
				if code, body := do(b, api.srv.URL, "POST", "/api/v1/query", f); code != bc.code {
					b.Fatalf("HTTP %d: %.200s", code, body)
				}
			}
		})
	}
}

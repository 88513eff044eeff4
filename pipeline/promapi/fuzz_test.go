package promapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"0", "1704067800", "1704067800.123", "-1.5", "2024-01-01T00:00:00Z",
		"2024-01-01T00:00:00.123456789+02:00", "1e300", "NaN", "+Inf", "", "yesterday",
		minTime().Format(time.RFC3339Nano), maxTime().Format(time.RFC3339Nano)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s)
		if err != nil {
			return
		}
		if got.Before(minTime()) || got.After(maxTime()) {
			t.Errorf("ParseTime(%q) = %v, outside Prometheus' time range", s, got)
		}
		// A parsed time written back in RFC 3339 parses to the same instant.
		if y := got.Year(); y >= 0 && y <= 9999 {
			back, err := ParseTime(got.Format(time.RFC3339Nano))
			if err != nil || !back.Equal(got) {
				t.Errorf("ParseTime(%q) = %v; round trip gives %v, %v", s, got, back, err)
			}
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"15", "0.5", "1m", "1h30m", "5m", "-1", "1e30", "NaN", "", "1y2w", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			return
		}
		// Prometheus duration strings (as opposed to float seconds) are
		// never negative.
		if _, ferr := parseFloat(s); ferr != nil && d < 0 {
			t.Errorf("ParseDuration(%q) = %v, negative from a duration string", s, d)
		}
	})
}

func FuzzParseMatchers(f *testing.F) {
	for _, s := range []string{"up", `{job="node"}`, `{job=~".*"}`, `node_cpu_seconds_total{mode!="idle"}`, `{__name__=~"node_.+"}`, `up{`, `{"utf8.metric"}`, ""} {
		f.Add(s, "up")
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, a, b string) {
		sets, err := ParseMatchers(p, []string{a, b})
		if err != nil {
			return
		}
		if len(sets) != 2 {
			t.Fatalf("%d matcher sets for 2 selectors", len(sets))
		}
		for i, ms := range sets {
			ok := false
			for _, m := range ms {
				if !m.Matches("") {
					ok = true
				}
			}
			if !ok {
				t.Errorf("selector %d (%q, %q) accepted but matches every series", i, a, b)
			}
		}
	})
}

// FuzzQueryRangeParams sends arbitrary parameters through the real handler:
// the answer is always Prometheus' JSON envelope with a 2xx/4xx/5xx code
// that matches its status, never a panic or a 500.
func FuzzQueryRangeParams(f *testing.F) {
	f.Add("up", "1704067200", "1704067800", "15")
	f.Add("rate(node_cpu_seconds_total[1m])", "2024-01-01T00:00:00Z", "2024-01-01T00:10:00Z", "1m")
	f.Add("up", "0", "1704067800", "1")
	f.Add("sum(", "x", "", "-1")
	f.Add("up", "1e300", "NaN", "1e-300")
	db := openDB(f)
	fillTestDB(f, db)
	api := New(Options{Queryable: db, Engine: NewEngine(EngineOptions{Timeout: 5 * time.Second}, nil, nil), Now: func() time.Time { return testNow }})
	mux := http.NewServeMux()
	api.Register(mux)
	f.Fuzz(func(t *testing.T, query, start, end, step string) {
		v := url.Values{"query": {query}, "start": {start}, "end": {end}, "step": {step}}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/query_range?"+v.Encode(), nil))
		var r apiResp
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil {
			t.Fatalf("HTTP %d, not JSON: %v: %s", rec.Code, err, rec.Body)
		}
		switch {
		case rec.Code == 200 && r.Status == "success":
		case (rec.Code == 400 && r.ErrorType == "bad_data") || (rec.Code == 422 && r.ErrorType == "execution") || (rec.Code == 503 && r.ErrorType == "timeout"):
			if r.Status != "error" || r.Error == "" {
				t.Errorf("HTTP %d without an error message: %s", rec.Code, rec.Body)
			}
		default:
			t.Errorf("HTTP %d %s: %s", rec.Code, r.ErrorType, rec.Body)
		}
	})
}

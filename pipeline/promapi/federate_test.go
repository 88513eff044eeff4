package promapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

func TestFederate(t *testing.T) {
	db := openDB(t)
	fillTestDB(t, db)
	// A series without instance label, last written 2 minutes before
	// testNow, and one gone stale.
	app := db.AppenderV2(t.Context())
	noInst := labels.FromStrings("__name__", "fleet_racks", "site", "ams1")
	stale := labels.FromStrings("__name__", "fleet_gone", "site", "ams1")
	for _, ts := range []time.Time{testNow.Add(-3 * time.Minute), testNow.Add(-2 * time.Minute)} {
		if _, err := app.Append(0, noInst, 0, ts.UnixMilli(), 42, nil, nil, storage.AppendV2Options{}); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Append(0, stale, 0, ts.UnixMilli(), 1, nil, nil, storage.AppendV2Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Append(0, stale, 0, testNow.Add(-time.Minute).UnixMilli(), staleNaN(), nil, nil, storage.AppendV2Options{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		now   time.Time
		match []string
		code  int
		want  string
	}{
		{"latest sample", testNow, []string{"up"}, 200, `# TYPE up untyped
up{instance="a:9100",job="node"} 1 1704067800000
up{instance="b:9100",job="node"} 0 1704067800000
`},
		{"grouped by name, empty instance added", testNow, []string{`{site="ams1"}`, "node_load1"}, 200, `# TYPE fleet_racks untyped
fleet_racks{site="ams1",instance=""} 42 1704067680000
# TYPE node_load1 untyped
node_load1{instance="a:9100",job="node"} 0 1704067800000
`},
		// 20 s before testNow the latest sample is number 38 (at 570 s): 38 % 4 = 2.
		{"sample before now", testNow.Add(-20 * time.Second), []string{"node_load1"}, 200, `# TYPE node_load1 untyped
node_load1{instance="a:9100",job="node"} 2 1704067770000
`},
		{"beyond lookback delta", testNow.Add(6 * time.Minute), []string{"up"}, 200, ""},
		{"no match", testNow, nil, 200, ""},
		{"bad selector", testNow, []string{"up{"}, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := New(Options{Queryable: db, Engine: NewEngine(EngineOptions{}, nil, nil), Now: func() time.Time { return tc.now }})
			mux := http.NewServeMux()
			api.Register(mux)
			f := form()
			for _, m := range tc.match {
				f.Add("match[]", m)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/federate?"+f.Encode(), nil))
			if rec.Code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", rec.Code, tc.code, rec.Body)
			}
			if tc.code != 200 {
				return
			}
			if got := rec.Body.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

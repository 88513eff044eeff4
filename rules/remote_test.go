package rules

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestRemoteQueryFuncAgainstPrometheus queries Debian's Prometheus, which
// scrapes a small exporter, through RemoteQueryFunc.
func TestRemoteQueryFuncAgainstPrometheus(t *testing.T) {
	exporter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "# TYPE fleetwatch_test_temperature gauge")
		fmt.Fprintln(w, `fleetwatch_test_temperature{sensor="inlet"} 21.5`)
		fmt.Fprintln(w, `fleetwatch_test_temperature{sensor="cpu"} 64`)
	}))
	defer exporter.Close()
	target := strings.TrimPrefix(exporter.URL, "http://")
	addr := testpeer.Prometheus(t, "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: exp\n    static_configs:\n      - targets: ['"+target+"']\n")
	q := RemoteQueryFunc("http://"+addr+"/", &http.Client{Timeout: 10 * time.Second})
	ctx := context.Background()

	waitFor(t, "the exporter scraped", 30*time.Second, func() bool {
		v, err := q(ctx, "fleetwatch_test_temperature", time.Now())
		return err == nil && len(v) == 2
	})
	for _, tc := range []struct {
		name, query string
		want        map[string]float64 // labels → value
		wantErr     string
	}{
		{"vector", `fleetwatch_test_temperature > 30`, map[string]float64{
			labels.FromStrings("__name__", "fleetwatch_test_temperature", "instance", target, "job", "exp", "sensor", "cpu").String(): 64}, ""},
		{"aggregation", `sum(fleetwatch_test_temperature)`, map[string]float64{"{}": 85.5}, ""},
		{"scalar", `1 + 1`, map[string]float64{"{}": 2}, ""},
		{"empty", `fleetwatch_test_temperature > 1000`, map[string]float64{}, ""},
		{"bad query", `sum(`, nil, "bad_data"},
		{"matrix", `fleetwatch_test_temperature[1m]`, nil, "not a vector or scalar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := q(ctx, tc.query, time.Now())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), addr) {
					t.Fatalf("error %v, want one naming %s and %q", err, addr, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, s := range v {
				got[s.Metric.String()] = s.F
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	// The evaluation time is the one asked for.
	at := time.Now().Add(-time.Minute).Truncate(time.Second)
	v, err := q(ctx, "vector(1)", at)
	if err != nil || len(v) != 1 || v[0].T != at.UnixMilli() {
		t.Errorf("vector(1) at %s: %v %v", at, v, err)
	}
}

func FuzzDecodeQueryResponse(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"b"},"value":[1.5,"2"]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"NaN"]}}`))
	f.Add([]byte(`{"status":"error","errorType":"bad_data","error":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := DecodeQueryResponse(b)
		if err == nil && v == nil {
			t.Fatal("nil vector without error")
		}
	})
}

package scrape

import (
	"testing"
)

// TestSeriesCache converts bodies one after the other with one parser, as the
// pool does across targets: a series text seen before must give the labels it
// would give parsed afresh, whatever TYPE and format it now appears under.
func TestSeriesCache(t *testing.T) {
	p := newParser()
	opts := parseOptions{honorTimestamps: true}
	for _, tc := range []struct {
		name, body, contentType, want string
	}{
		{"histogram", "# TYPE h histogram\nh_bucket{le=\"1\"} 1\n", "text/plain", `{__name__="h_bucket", le="1.0"} 1 @0` + "\n" +
			`# metadata h type=histogram unit="" help=""` + "\n"},
		{"same text untyped", "h_bucket{le=\"1\"} 2\n", "text/plain", `{__name__="h_bucket", le="1"} 2 @0` + "\n"},
		{"same text as gauge", "# TYPE h_bucket gauge\nh_bucket{le=\"1\"} 3\n", "text/plain", `{__name__="h_bucket", le="1"} 3 @0` + "\n" +
			`# metadata h_bucket type=gauge unit="" help=""` + "\n"},
		{"histogram again", "# TYPE h histogram\nh_bucket{le=\"1\"} 4\n", "text/plain", `{__name__="h_bucket", le="1.0"} 4 @0` + "\n" +
			`# metadata h type=histogram unit="" help=""` + "\n"},
		{"openmetrics", "# TYPE h histogram\nh_bucket{le=\"1\"} 5\n# EOF\n", "application/openmetrics-text", `{__name__="h_bucket", le="1.0"} 5 @0` + "\n" +
			`# metadata h type=histogram unit="" help=""` + "\n"},
		{"empty label", "x{a=\"\"} 6\nx{a=\"1\"} 7\n", "text/plain", `{__name__="x"} 6 @0` + "\n" + `{__name__="x", a="1"} 7 @0` + "\n"},
		{"empty label cached", "x{a=\"\"} 8\n", "text/plain", `{__name__="x"} 8 @0` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			if _, err := p.appendExposition([]byte(tc.body), tc.contentType, &opts, &rec); err != nil {
				t.Fatal(err)
			}
			if got := joinLines(rec.lines); got != tc.want {
				t.Errorf("got\n%swant\n%s", got, tc.want)
			}
		})
	}
}

// TestLimitsWithCache: a series cached by one collection still counts towards
// sample_limit in the next.
func TestLimitsWithCache(t *testing.T) {
	p := newParser()
	body := "a 1\nb 2\nc 3\n"
	if _, err := p.appendExposition([]byte(body), "text/plain", &parseOptions{}, &recorder{}); err != nil {
		t.Fatal(err)
	}
	_, err := p.appendExposition([]byte(body), "text/plain", &parseOptions{sampleLimit: 2}, &recorder{})
	if err == nil {
		t.Fatal("sample_limit 2 with 3 cached series: no error")
	}
}

package web

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzParseSilenceForm: any form gives a silence that ends after it starts
// with at least one matcher, or an error naming a field.
func FuzzParseSilenceForm(f *testing.F) {
	f.Add(`{alertname="NodeDown", site=~"dc1|dc2"}`, "2h", "", "maintenance")
	f.Add(`site!="a",rack!~"r.*"`, "", "2026-03-14T05:00:00Z", "x")
	f.Add(`{foo=~".*"}`, "1d", "", "c")
	f.Add(`{"quoted name"="v"}`, "-5m", "", "c")
	f.Add(`{a="\"}`, "", "not a time", "")
	f.Fuzz(func(t *testing.T, matchers, duration, ends, comment string) {
		s, err := parseSilenceForm(url.Values{"matchers": {matchers}, "duration": {duration}, "ends": {ends}, "comment": {comment}}, testNow)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "field ") {
				t.Fatalf("error does not name the field: %v", err)
			}
			return
		}
		if len(s.Matchers) == 0 || !s.EndsAt.After(s.StartsAt) || s.EndsAt.Sub(s.StartsAt) > maxSilenceDuration || s.Comment == "" {
			t.Fatalf("accepted a bad silence: %+v", s)
		}
		// What the list shows must parse back to the same matchers.
		back, err := parseSilenceForm(url.Values{"matchers": {fmtMatchers(s.Matchers)}, "duration": {"1h"}, "comment": {"c"}}, testNow)
		if err != nil || fmtMatchers(back.Matchers) != fmtMatchers(s.Matchers) {
			t.Fatalf("matchers %s do not round-trip: %v %v", fmtMatchers(s.Matchers), back.Matchers, err)
		}
	})
}

// FuzzParseListFilter: any query string gives a filter within its limits or
// an error naming the parameter.
func FuzzParseListFilter(f *testing.F) {
	f.Add("state=open&severity=critical&site=dc1&since=24h&limit=50")
	f.Add("state=triggered,resolved&state=all&q=x")
	f.Add("limit=99999&since=-1h")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		lf, err := parseListFilter(q)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "parameter ") {
				t.Fatalf("error does not name the parameter: %v", err)
			}
			return
		}
		if lf.Limit < 1 || lf.Limit > maxListLimit || lf.Since < 0 {
			t.Fatalf("out of range: %+v", lf)
		}
		sf := lf.storeFilter(testNow)
		if !lf.All && len(sf.States) == 0 {
			t.Fatalf("no state filter without state=all: %+v", lf)
		}
		if lf.Since > 0 && !sf.Since.Before(testNow.Add(time.Nanosecond)) {
			t.Fatalf("since in the future: %v", sf.Since)
		}
	})
}

package postmortem

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"now", "-12h", "-7d", "+1w", "2021-07-30T17:00:00Z", "1627664400", "1627664400.25", "", "yesterday", "-", "99999999999999999", "1.", ".5", "-1y2w"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseTime(s, now)
		if err != nil {
			if !errors.Is(err, ErrBadSelection) {
				t.Errorf("ParseTime(%q): error %v does not wrap ErrBadSelection", s, err)
			}
			if !strings.Contains(err.Error(), "time") {
				t.Errorf("ParseTime(%q): error %q does not say which input", s, err)
			}
			return
		}
		if got.IsZero() && s != "0" {
			t.Errorf("ParseTime(%q) = zero time without an error", s)
		}
	})
}

func FuzzParseSelector(f *testing.F) {
	for _, s := range []string{`{site="dc2"}`, `site="dc2",rack=~"r1.*"`, `{}`, ``, `{rack=}`, `{a!="b"`, `{"quoted.name"="x"}`, `{__name__="ALERTS"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseSelector(s)
		if err != nil {
			if !errors.Is(err, ErrBadSelection) {
				t.Errorf("ParseSelector(%q): error %v does not wrap ErrBadSelection", s, err)
			}
			return
		}
		// A parsed selector can be applied to any label set.
		_ = matchAll(ms, map[string]string{"site": "dc2", "rack": "r12"})
		_ = Selection{From: time.Unix(0, 0), To: time.Unix(1, 0), Matchers: ms}.String()
	})
}

// FuzzEventData: whatever an event's Data holds, the entry is built, the
// timeline collapses and the report renders.
func FuzzEventData(f *testing.F) {
	for _, s := range []string{``, `null`, `{}`, `{"source":"snmp_trap","kind":"linkDown","severity":"warning"}`,
		`{"guard":"cooldown","status":"skipped","dry_run":true}`, `{"attempt":"two"}`, `[1,2]`, `{"attributes":{"a":1}}`, `{"source":5}`, `{`} {
		f.Add(store.EventExternal, s, "summary")
		f.Add(store.EventRemediationSkipped, s, "")
	}
	f.Fuzz(func(t *testing.T, kind, data, summary string) {
		var tl Timeline
		e := store.TimelineEvent{ID: 1, Time: time.Unix(1627664400, 0), Kind: kind, Summary: summary,
			Labels: map[string]string{"alertname": "X", "server": "s1"}, Data: json.RawMessage(data)}
		en := tl.entryOf(e)
		if en.Summary == "" || en.Count != 1 || en.Category == "" {
			t.Errorf("entry %+v: empty summary, count or category", en)
		}
		tl.Entries = collapse([]Entry{en, en, en, en}, Collapse{}.withDefaults())
		r := Report{Title: "t", Timeline: tl}
		for _, f := range []string{FormatMarkdown, FormatHTML, FormatJSON} {
			var buf bytes.Buffer
			if err := Render(&buf, r, f); err != nil {
				t.Errorf("render %s: %v", f, err)
			}
		}
	})
}

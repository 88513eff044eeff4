package postmortem

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// ALERTS entry kinds (read from the TSDB).
const (
	KindALERTSPending = "alerts_pending" // the rule's condition began to hold (before `for`)
	KindALERTSFiring  = "alerts_firing"  // the rule fired
	KindALERTSEnded   = "alerts_ended"   // the firing series stopped
	KindFlapping      = "alert_flapping"
)

// alertsMatchersFor selects the ALERTS series of the named alerts.
func alertsMatchersFor(alerts []store.Alert) []*labels.Matcher {
	names := map[string]bool{}
	for _, a := range alerts {
		if n := a.Labels["alertname"]; n != "" {
			names[n] = true
		}
	}
	var quoted []string
	for _, n := range slices.Sorted(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	}) {
		quoted = append(quoted, regexp.QuoteMeta(n))
	}
	return []*labels.Matcher{
		labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "ALERTS"),
		labels.MustNewMatcher(labels.MatchRegexp, "alertname", strings.Join(quoted, "|")),
	}
}

// alertsSeriesEntries reads the ALERTS series between tl.From and tl.To and
// turns each run of samples into entries: pending, firing, ended. With
// alerts given, only series of those alerts are kept (every label of the
// series, alertstate aside, on one of the alerts).
func alertsSeriesEntries(ctx context.Context, src Sources, tl *Timeline, ms []*labels.Matcher, alerts []store.Alert, c Collapse) []Entry {
	q, err := src.Queryable.Querier(tl.From.UnixMilli(), tl.To.UnixMilli())
	if err != nil {
		tl.warn("ALERTS series: %v", err)
		return nil
	}
	defer q.Close()
	ss := q.Select(ctx, false, nil, ms...)
	var out []Entry
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		ls := s.Labels().Map()
		if alerts != nil && !seriesOfAlerts(ls, alerts) {
			continue
		}
		state := ls["alertstate"]
		delete(ls, labels.MetricName)
		delete(ls, "alertstate")
		it = s.Iterator(it)
		var start, last int64
		have := false
		flush := func() {
			if !have {
				return
			}
			st, en := time.UnixMilli(start).UTC(), time.UnixMilli(last).UTC()
			e := Entry{Time: st, Source: SourceALERTS, Category: CatAlert, Labels: ls, Count: 1, Severity: ls["severity"]}
			switch state {
			case "pending":
				e.Kind = KindALERTSPending
				e.Summary = fmt.Sprintf("%s pending (condition holds, waiting for `for`)", alertString(ls))
				out = append(out, e)
			default:
				e.Kind = KindALERTSFiring
				e.Summary = fmt.Sprintf("%s firing", alertString(ls))
				out = append(out, e)
				if en.Add(c.SeriesGap).Before(tl.To) {
					end := e
					end.Time, end.Kind = en, KindALERTSEnded
					end.Summary = fmt.Sprintf("%s no longer firing (last sample)", alertString(ls))
					out = append(out, end)
				}
			}
		}
		for it.Next() == chunkenc.ValFloat {
			t, _ := it.At()
			if have && time.Duration(t-last)*time.Millisecond > c.SeriesGap {
				flush()
				have = false
			}
			if !have {
				start, have = t, true
			}
			last = t
		}
		flush()
		if err := it.Err(); err != nil {
			tl.warn("ALERTS series %s: %v", alertString(ls), err)
		}
	}
	if err := ss.Err(); err != nil {
		tl.warn("ALERTS series: %v", err)
	}
	return out
}

func seriesOfAlerts(ls map[string]string, alerts []store.Alert) bool {
	for _, a := range alerts {
		ok := true
		for k, v := range ls {
			if k == labels.MetricName || k == "alertstate" {
				continue
			}
			if a.Labels[k] != v {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func isFiring(e Entry) (alerter, series bool) {
	switch e.Kind {
	case store.EventAlertFiring, store.EventIncidentGrouped:
		return true, false
	case KindALERTSFiring:
		return false, true
	}
	return false, false
}

// collapse turns flapping alerts and bursts into single lines, then bounds
// the timeline to c.MaxEntries lines.
func collapse(raw []Entry, c Collapse) []Entry {
	// Flapping: count firings per alert, in each source.
	type flap struct{ alerter, series, resolved int }
	fl := map[string]*flap{}
	for _, e := range raw {
		if e.Category != CatAlert {
			continue
		}
		k := alertKey(e.Labels)
		f := fl[k]
		if f == nil {
			f = &flap{}
			fl[k] = f
		}
		a, s := isFiring(e)
		switch {
		case a:
			f.alerter++
		case s:
			f.series++
		case e.Kind == store.EventAlertResolved:
			f.resolved++
		}
	}
	out := make([]Entry, 0, len(raw))
	flapAt := map[string]int{}
	type burst struct {
		at   int
		last time.Time
	}
	bursts := map[string]*burst{}
	for _, e := range raw {
		if e.Category == CatAlert {
			k := alertKey(e.Labels)
			if f := fl[k]; f != nil && max(f.alerter, f.series) >= c.FlapThreshold {
				if i, ok := flapAt[k]; ok {
					out[i].Until = e.Time
					continue
				}
				n := max(f.alerter, f.series)
				src := SourceAlerter
				if f.series > f.alerter {
					src = SourceALERTS
				}
				flapAt[k] = len(out)
				out = append(out, Entry{Time: e.Time, Until: e.Time, Source: src, Category: CatAlert, Kind: KindFlapping,
					Summary:  fmt.Sprintf("%s flapped: fired %d times, resolved %d times", alertString(e.Labels), n, f.resolved),
					Severity: e.Labels["severity"], Labels: e.Labels, Count: n, Collapsed: CollapsedFlapping, EventID: e.EventID})
				continue
			}
		}
		switch e.Category {
		case CatIncident, CatPage, CatRemediation:
		default:
			k := e.Source + "\x00" + e.Kind + "\x00" + deviceOf(e.Labels) + "\x00" + e.Summary
			if b := bursts[k]; b != nil && e.Time.Sub(b.last) <= c.BurstGap {
				o := &out[b.at]
				o.Count += e.Count
				o.Until, o.Collapsed = e.Time, CollapsedBurst
				b.last = e.Time
				continue
			}
			bursts[k] = &burst{at: len(out), last: e.Time}
		}
		out = append(out, e)
	}
	if len(out) <= c.MaxEntries {
		return out
	}
	return bound(groupNoise(out), c.MaxEntries)
}

// keyCategory: entries that tell what people and fleetwatch did, kept as
// lines of their own when a timeline is grouped.
func keyCategory(cat string) bool {
	switch cat {
	case CatIncident, CatPage, CatRemediation, CatChange, CatLifecycle, CatSilence:
		return true
	}
	return false
}

// groupNoise turns the other entries into one line per category, kind and
// alert (or source), placed at the first of them.
func groupNoise(in []Entry) []Entry {
	type grp struct {
		at      int
		devices map[string]bool
		sev     string
	}
	groups := map[string]*grp{}
	out := make([]Entry, 0, 64)
	for _, e := range in {
		if keyCategory(e.Category) {
			out = append(out, e)
			continue
		}
		name := e.Labels["alertname"]
		if name == "" {
			name = e.Source
		}
		k := e.Category + "\x00" + e.Kind + "\x00" + name
		g := groups[k]
		if g == nil {
			g = &grp{at: len(out), devices: map[string]bool{}}
			groups[k] = g
			out = append(out, Entry{Time: e.Time, Until: e.Time, Source: e.Source, Category: e.Category, Kind: e.Kind,
				Severity: e.Severity, Collapsed: CollapsedGroup, EventID: e.EventID, Labels: map[string]string{}})
			if n := e.Labels["alertname"]; n != "" {
				out[g.at].Labels["alertname"] = n
			}
		}
		o := &out[g.at]
		o.Count += max(e.Count, 1)
		if t := e.Until; t.After(o.Until) {
			o.Until = t
		}
		if e.Time.After(o.Until) {
			o.Until = e.Time
		}
		if d := deviceOf(e.Labels); d != "" && len(g.devices) < 100000 {
			g.devices[d] = true
		}
		if severityRank(e.Severity) > severityRank(o.Severity) {
			o.Severity = e.Severity
		}
	}
	for k, g := range groups {
		o := &out[g.at]
		parts := strings.SplitN(k, "\x00", 3)
		devs := slices.Sorted(func(yield func(string) bool) {
			for d := range g.devices {
				if !yield(d) {
					return
				}
			}
		})
		what := parts[2]
		s := fmt.Sprintf("%d × %s %s", o.Count, o.Kind, what)
		if len(devs) > 0 {
			shown := devs
			if len(shown) > 5 {
				shown = shown[:5]
			}
			s += fmt.Sprintf(" on %d devices (%s", len(devs), strings.Join(shown, ", "))
			if len(devs) > len(shown) {
				s += ", …"
			}
			s += ")"
		}
		o.Summary = s
	}
	return out
}

// mustShow are the kinds a bounded timeline keeps wherever they fall.
func mustShow(e Entry) bool {
	switch e.Kind {
	case store.EventIncidentCreated, store.EventAcknowledged, store.EventResolved, store.EventReopened,
		store.EventIncidentEscalated, store.EventRemediationFinished, store.EventConfigReload:
		return true
	}
	return false
}

// bound keeps at most max lines: the entries that must show (up to a
// quarter of max), the first and the last others, and one "omitted" line
// for each run left out.
func bound(in []Entry, limit int) []Entry {
	if len(in) <= limit {
		return in
	}
	keep := make([]bool, len(in))
	budget := limit
	must := 0
	for i, e := range in {
		if mustShow(e) && must < limit/4 {
			keep[i] = true
			must++
		}
	}
	budget -= 2 * must // each kept entry may open a gap line
	budget--
	head := budget / 2
	tail := budget - head
	for i := 0; i < len(in) && head > 0; i++ {
		if !keep[i] {
			keep[i] = true
			head--
		}
	}
	for i := len(in) - 1; i >= 0 && tail > 0; i-- {
		if !keep[i] {
			keep[i] = true
			tail--
		}
	}
	out := make([]Entry, 0, limit)
	for i := 0; i < len(in); {
		if keep[i] {
			out = append(out, in[i])
			i++
			continue
		}
		j := i
		n := 0
		for j < len(in) && !keep[j] {
			n += max(in[j].Count, 1)
			j++
		}
		out = append(out, Entry{Time: in[i].Time, Until: in[j-1].Time, Source: "postmortem", Category: CatOther,
			Kind: "omitted", Count: n, Collapsed: CollapsedOmitted,
			Summary: fmt.Sprintf("%d entries left out to keep the timeline short (the API's ?raw=1 lists them all)", n)})
		i = j
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

func severityRank(s string) int {
	switch strings.ToLower(s) {
	case "critical", "page":
		return 4
	case "error":
		return 3
	case "warning":
		return 2
	case "info":
		return 1
	}
	return 0
}

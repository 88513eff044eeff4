package postmortem

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// FleetOptions tune a fleet report. The zero value takes the defaults.
type FleetOptions struct {
	// Top is how many noisiest alerts are listed (default 10).
	Top int
	// FlapThreshold: one alert (label set) that fired this many times or
	// more in the period flapped (default 3).
	FlapThreshold int
	// ShiftLength is an on-call shift (default 12 hours); ShiftStart is when
	// a shift starts each day (default 08:00) in Location (default UTC).
	ShiftLength time.Duration
	ShiftStart  time.Duration
	Location    *time.Location
	// TrendBucket is the MTTA/MTTR trend's bucket (default 7 days).
	TrendBucket time.Duration
}

func (o FleetOptions) withDefaults() FleetOptions {
	if o.Top <= 0 {
		o.Top = 10
	}
	if o.FlapThreshold <= 0 {
		o.FlapThreshold = 3
	}
	if o.ShiftLength <= 0 {
		o.ShiftLength = 12 * time.Hour
	}
	if o.ShiftStart <= 0 {
		o.ShiftStart = 8 * time.Hour
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.TrendBucket <= 0 {
		o.TrendBucket = 7 * 24 * time.Hour
	}
	return o
}

// AlertNoise is one alert name's noise over the period.
type AlertNoise struct {
	Alert     string `json:"alert"`
	Firings   int    `json:"firings"`
	Devices   int    `json:"devices"`
	Incidents int    `json:"incidents"`
	// Acknowledged is how many of its incidents someone acknowledged.
	Acknowledged int `json:"acknowledged"`
	// MedianFiringSeconds is the median time from firing to resolution.
	MedianFiringSeconds float64 `json:"medianFiringSeconds"`
}

// FlappingRule is an alert name whose alerts flapped.
type FlappingRule struct {
	Alert string `json:"alert"`
	// Flapping is how many of its alerts (label sets) fired FlapThreshold
	// times or more; Firings their firings; Worst the most of one alert.
	Flapping int    `json:"flapping"`
	Firings  int    `json:"firings"`
	Worst    int    `json:"worst"`
	Example  string `json:"example"`
}

// Shift is one on-call shift's pages.
type Shift struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Pages     int       `json:"pages"`
	Incidents int       `json:"incidents"`
}

// TrendPoint is one bucket of an MTTA/MTTR trend.
type TrendPoint struct {
	Start        time.Time `json:"start"`
	Incidents    int       `json:"incidents"`
	Acknowledged int       `json:"acknowledged"`
	Resolved     int       `json:"resolved"`
	MTTASeconds  float64   `json:"mttaSeconds"` // mean time to acknowledge of the acknowledged ones
	MTTRSeconds  float64   `json:"mttrSeconds"` // mean time to resolve of the resolved ones
}

// Trend is the MTTA/MTTR trend of one route or rule.
type Trend struct {
	Key    string       `json:"key"`
	Points []TrendPoint `json:"points"`
}

// RemediationRate is one remediation's outcomes over the period.
type RemediationRate struct {
	Action    string `json:"action"`
	Runs      int    `json:"runs"`
	Succeeded int    `json:"succeeded"`
	Failed    int    `json:"failed"`
	Escalated int    `json:"escalated"`
	Skipped   int    `json:"skipped"`
	Other     int    `json:"other"`
	// SuccessRate is succeeded / (succeeded + failed + escalated): the
	// share of the runs that acted and worked (skipped runs did not act).
	SuccessRate float64 `json:"successRate"`
	// SkippedBy counts the skipped runs by guard.
	SkippedBy map[string]int `json:"skippedBy,omitempty"`
}

// FleetSummary is the fleet report over a period: the input to "which
// alerts should we delete".
type FleetSummary struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Generated time.Time `json:"generated"`
	Incidents int       `json:"incidents"`
	Pages     int       `json:"pages"`

	NoisiestAlerts []AlertNoise      `json:"noisiestAlerts"`
	FlappingRules  []FlappingRule    `json:"flappingRules"`
	PagesPerShift  []Shift           `json:"pagesPerShift"`
	ShiftLength    string            `json:"shiftLength"`
	TrendByRoute   []Trend           `json:"trendByRoute"`
	TrendByRule    []Trend           `json:"trendByRule"`
	TrendBucket    string            `json:"trendBucket"`
	Remediation    []RemediationRate `json:"remediation"`
	// Candidates are alerts worth a second look: never acknowledged yet
	// often firing, or flapping.
	Candidates []string `json:"candidates"`
}

// maxShifts bounds the pages-per-shift table.
const maxShifts = 2000

// FleetReport summarises the fleet between from and to.
func FleetReport(ctx context.Context, src Sources, from, to time.Time, o FleetOptions) (FleetSummary, error) {
	if src.Store == nil {
		return FleetSummary{}, errors.New("postmortem: no store to read")
	}
	if !to.After(from) {
		return FleetSummary{}, fmt.Errorf("%w: to (%s) is not after from (%s)", ErrBadSelection, fmtTime(to), fmtTime(from))
	}
	o = o.withDefaults()
	if n := to.Sub(from) / o.ShiftLength; n > maxShifts {
		return FleetSummary{}, fmt.Errorf("%w: %s to %s holds %d shifts of %s; at most %d", ErrBadSelection, fmtTime(from), fmtTime(to), n, fmtDur(o.ShiftLength), maxShifts)
	}
	incs, err := src.Store.ListIncidents(ctx, store.IncidentFilter{Since: from, Until: to})
	if err != nil {
		return FleetSummary{}, fmt.Errorf("incidents %s to %s: %w", fmtTime(from), fmtTime(to), err)
	}
	evs, err := src.Store.ListEvents(ctx, store.EventFilter{Since: from, Until: to, Kinds: []string{
		store.EventAlertFiring, store.EventIncidentGrouped, store.EventAlertResolved, store.EventAcknowledged, store.EventNotificationSent}})
	if err != nil {
		return FleetSummary{}, fmt.Errorf("events %s to %s: %w", fmtTime(from), fmtTime(to), err)
	}
	runs, err := src.Store.ListRemediationRuns(ctx, store.RemediationFilter{Since: from})
	if err != nil {
		return FleetSummary{}, fmt.Errorf("remediation runs since %s: %w", fmtTime(from), err)
	}
	fs := FleetSummary{From: from.UTC(), To: to.UTC(), Generated: src.now().UTC(), Incidents: len(incs),
		ShiftLength: fmtDur(o.ShiftLength), TrendBucket: fmtDur(o.TrendBucket)}

	acked := map[string]time.Time{} // incident → first acknowledgement
	firstRule := map[string]string{}
	for _, e := range evs {
		switch e.Kind {
		case store.EventAcknowledged:
			if _, ok := acked[e.IncidentID]; !ok {
				acked[e.IncidentID] = e.Time
			}
		case store.EventAlertFiring, store.EventIncidentGrouped:
			if _, ok := firstRule[e.IncidentID]; !ok && e.IncidentID != "" {
				firstRule[e.IncidentID] = e.Labels["alertname"]
			}
		}
	}
	fs.NoisiestAlerts, fs.FlappingRules = noise(evs, acked, o)
	fs.PagesPerShift, fs.Pages = shifts(evs, from, to, o)
	fs.TrendByRoute, fs.TrendByRule = trends(incs, acked, firstRule, from, o)
	fs.Remediation = remediationRates(runs, to)
	for _, n := range fs.NoisiestAlerts {
		if n.Acknowledged == 0 && n.Firings >= 5 {
			fs.Candidates = append(fs.Candidates, fmt.Sprintf("%s fired %d times on %d devices and nobody acknowledged any of its %d incidents: delete it, or make it a ticket instead of a page",
				n.Alert, n.Firings, n.Devices, n.Incidents))
		} else if n.MedianFiringSeconds > 0 && n.MedianFiringSeconds < 300 && n.Firings >= 5 {
			fs.Candidates = append(fs.Candidates, fmt.Sprintf("%s fired %d times and resolved itself within %s (median): raise its `for` or its threshold",
				n.Alert, n.Firings, fmtDur(time.Duration(n.MedianFiringSeconds*float64(time.Second)))))
		}
	}
	for _, f := range fs.FlappingRules {
		fs.Candidates = append(fs.Candidates, fmt.Sprintf("%s flapped on %d alert(s) (worst %d firings, e.g. %s): add hysteresis or keep_firing_for",
			f.Alert, f.Flapping, f.Worst, f.Example))
	}
	return fs, nil
}

func noise(evs []store.TimelineEvent, acked map[string]time.Time, o FleetOptions) ([]AlertNoise, []FlappingRule) {
	type agg struct {
		n         AlertNoise
		devices   map[string]bool
		incidents map[string]bool
		durations []float64
	}
	by := map[string]*agg{}
	perAlert := map[string]int{}
	perAlertLabels := map[string]map[string]string{}
	open := map[string]time.Time{}
	for _, e := range evs {
		name := e.Labels["alertname"]
		if name == "" {
			continue
		}
		a := by[name]
		if a == nil {
			a = &agg{n: AlertNoise{Alert: name}, devices: map[string]bool{}, incidents: map[string]bool{}}
			by[name] = a
		}
		k := alertKey(e.Labels)
		switch e.Kind {
		case store.EventAlertFiring, store.EventIncidentGrouped:
			a.n.Firings++
			if d := deviceOf(e.Labels); d != "" {
				a.devices[d] = true
			}
			if e.IncidentID != "" {
				a.incidents[e.IncidentID] = true
			}
			perAlert[k]++
			perAlertLabels[k] = e.Labels
			if _, ok := open[k]; !ok {
				open[k] = e.Time
			}
		case store.EventAlertResolved:
			if t, ok := open[k]; ok {
				a.durations = append(a.durations, e.Time.Sub(t).Seconds())
				delete(open, k)
			}
		}
	}
	var out []AlertNoise
	for _, a := range by {
		if a.n.Firings == 0 {
			continue
		}
		a.n.Devices, a.n.Incidents = len(a.devices), len(a.incidents)
		for id := range a.incidents {
			if _, ok := acked[id]; ok {
				a.n.Acknowledged++
			}
		}
		if len(a.durations) > 0 {
			slices.Sort(a.durations)
			a.n.MedianFiringSeconds = a.durations[len(a.durations)/2]
		}
		out = append(out, a.n)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Firings != out[j].Firings {
			return out[i].Firings > out[j].Firings
		}
		return out[i].Alert < out[j].Alert
	})
	if len(out) > o.Top {
		out = out[:o.Top]
	}
	flaps := map[string]*FlappingRule{}
	for k, n := range perAlert {
		if n < o.FlapThreshold {
			continue
		}
		ls := perAlertLabels[k]
		name := ls["alertname"]
		f := flaps[name]
		if f == nil {
			f = &FlappingRule{Alert: name}
			flaps[name] = f
		}
		f.Flapping++
		f.Firings += n
		if n > f.Worst || (n == f.Worst && alertString(ls) < f.Example) {
			f.Worst, f.Example = n, alertString(ls)
		}
	}
	fl := []FlappingRule{}
	for _, f := range flaps {
		fl = append(fl, *f)
	}
	sort.Slice(fl, func(i, j int) bool {
		if fl[i].Firings != fl[j].Firings {
			return fl[i].Firings > fl[j].Firings
		}
		return fl[i].Alert < fl[j].Alert
	})
	if out == nil {
		out = []AlertNoise{}
	}
	return out, fl
}

// shiftStart is the start of the shift that holds t.
func shiftStart(t time.Time, o FleetOptions) time.Time {
	lt := t.In(o.Location)
	day := time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, o.Location).Add(o.ShiftStart)
	for day.After(t) {
		day = day.Add(-o.ShiftLength)
	}
	for !day.Add(o.ShiftLength).After(t) {
		day = day.Add(o.ShiftLength)
	}
	return day
}

func shifts(evs []store.TimelineEvent, from, to time.Time, o FleetOptions) ([]Shift, int) {
	var out []Shift
	idx := map[int64]int{}
	for s := shiftStart(from, o); s.Before(to) && len(out) <= maxShifts; s = s.Add(o.ShiftLength) {
		idx[s.Unix()] = len(out)
		out = append(out, Shift{Start: s.UTC(), End: s.Add(o.ShiftLength).UTC()})
	}
	incs := make([]map[string]bool, len(out))
	total := 0
	for _, e := range evs {
		if e.Kind != store.EventNotificationSent {
			continue
		}
		d, _ := decodeData(e.Data)
		action := d.Action
		if action == "" {
			action, _, _ = strings.Cut(e.Summary, " ")
		}
		if action != "trigger" {
			continue
		}
		i, ok := idx[shiftStart(e.Time, o).Unix()]
		if !ok {
			continue
		}
		out[i].Pages++
		total++
		if incs[i] == nil {
			incs[i] = map[string]bool{}
		}
		incs[i][e.IncidentID] = true
	}
	for i := range out {
		out[i].Incidents = len(incs[i])
	}
	return out, total
}

func trends(incs []store.Incident, acked map[string]time.Time, firstRule map[string]string, from time.Time, o FleetOptions) ([]Trend, []Trend) {
	type acc struct {
		TrendPoint
		tta, ttr float64
	}
	route := map[string]map[int64]*acc{}
	rule := map[string]map[int64]*acc{}
	add := func(m map[string]map[int64]*acc, key string, bucket int64, inc store.Incident) {
		if m[key] == nil {
			m[key] = map[int64]*acc{}
		}
		a := m[key][bucket]
		if a == nil {
			a = &acc{TrendPoint: TrendPoint{Start: from.Add(time.Duration(bucket) * o.TrendBucket).UTC()}}
			m[key][bucket] = a
		}
		a.Incidents++
		at, ok := acked[inc.ID]
		if !ok && !inc.AcknowledgedAt.IsZero() {
			at, ok = inc.AcknowledgedAt, true
		}
		if ok {
			a.Acknowledged++
			a.tta += at.Sub(inc.CreatedAt).Seconds()
		}
		if inc.State == store.Resolved && !inc.ResolvedAt.IsZero() {
			a.Resolved++
			a.ttr += inc.ResolvedAt.Sub(inc.CreatedAt).Seconds()
		}
	}
	for _, inc := range incs {
		b := int64(inc.CreatedAt.Sub(from) / o.TrendBucket)
		add(route, orDash(inc.Route), b, inc)
		r := firstRule[inc.ID]
		if r == "" {
			r = inc.Labels["alertname"]
		}
		add(rule, orDash(r), b, inc)
	}
	flat := func(m map[string]map[int64]*acc) []Trend {
		out := []Trend{}
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		}) {
			t := Trend{Key: k}
			for _, b := range slices.Sorted(func(yield func(int64) bool) {
				for b := range m[k] {
					if !yield(b) {
						return
					}
				}
			}) {
				a := m[k][b]
				if a.Acknowledged > 0 {
					a.MTTASeconds = a.tta / float64(a.Acknowledged)
				}
				if a.Resolved > 0 {
					a.MTTRSeconds = a.ttr / float64(a.Resolved)
				}
				t.Points = append(t.Points, a.TrendPoint)
			}
			out = append(out, t)
		}
		return out
	}
	return flat(route), flat(rule)
}

func remediationRates(runs []store.RemediationRun, to time.Time) []RemediationRate {
	by := map[string]*RemediationRate{}
	for _, r := range runs {
		if !r.CreatedAt.Before(to) || r.DryRun {
			continue
		}
		rr := by[r.Action]
		if rr == nil {
			rr = &RemediationRate{Action: r.Action}
			by[r.Action] = rr
		}
		rr.Runs++
		switch r.Status {
		case "succeeded":
			rr.Succeeded++
		case "failed":
			rr.Failed++
		case "escalated":
			rr.Escalated++
		case "skipped":
			rr.Skipped++
			if rr.SkippedBy == nil {
				rr.SkippedBy = map[string]int{}
			}
			rr.SkippedBy[orDash(guardName(r.Reason))]++
		default:
			rr.Other++
		}
	}
	out := []RemediationRate{}
	for _, rr := range by {
		if acted := rr.Succeeded + rr.Failed + rr.Escalated; acted > 0 {
			rr.SuccessRate = float64(rr.Succeeded) / float64(acted)
		}
		out = append(out, *rr)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Runs != out[j].Runs {
			return out[i].Runs > out[j].Runs
		}
		return out[i].Action < out[j].Action
	})
	return out
}

// guardName is the guard a skip reason names: the word before its colon.
func guardName(reason string) string {
	g, _, ok := strings.Cut(reason, ":")
	if !ok || strings.ContainsAny(strings.TrimSpace(g), " \t") {
		return ""
	}
	return strings.TrimSpace(g)
}

package fwds

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// lookback is how far before the dashboard's range incidents are fetched
// for timelines and metrics: the API filters by creation time, and an
// incident opened earlier can still be open (or change) within the range.
const lookback = 7 * 24 * time.Hour

// maxTimelineIncidents bounds the incidents whose timelines one query
// reads (one request each).
const maxTimelineIncidents = 200

func (d *Datasource) list(ctx context.Context, q Query, defLimit int, since time.Time) ([]store.Incident, error) {
	f, keep, err := q.filter(defLimit)
	if err != nil {
		return nil, err
	}
	f.Since = since
	incs, err := d.client.incidents(ctx, f)
	if err != nil {
		return nil, err
	}
	out := incs[:0]
	for _, in := range incs {
		if keep(in.Labels, in.Severity) {
			out = append(out, in)
		}
	}
	return out, nil
}

// queryIncidents: one row per incident, newest first.
func (d *Datasource) queryIncidents(ctx context.Context, q Query) (backend.DataResponse, error) {
	incs, err := d.list(ctx, q, 100, time.Time{})
	if err != nil {
		return backend.DataResponse{}, err
	}
	return backend.DataResponse{Frames: data.Frames{IncidentsFrame(incs, d.now())}}, nil
}

// IncidentsFrame is the table of incidents: id, title, state, severity,
// site, rack, receiver, cause, alert counts, created / acknowledged /
// resolved times and the duration so far (at now for open ones).
func IncidentsFrame(incs []store.Incident, now time.Time) *data.Frame {
	n := len(incs)
	var (
		id, title, state, sev, site, rack, recv, cause, labels = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		alerts, firing                                         = make([]int64, n), make([]int64, n)
		created                                                = make([]time.Time, n)
		acked, resolved                                        = make([]*time.Time, n), make([]*time.Time, n)
		dur                                                    = make([]float64, n)
	)
	for i, in := range incs {
		id[i], title[i], state[i], sev[i] = in.ID, in.Title, string(in.State), in.Severity
		site[i], rack[i], recv[i], cause[i] = in.Labels["site"], in.Labels["rack"], in.Receiver, in.Cause
		labels[i] = labelString(in.Labels)
		alerts[i], firing[i] = int64(in.AlertCount), int64(in.FiringCount)
		created[i] = in.CreatedAt.UTC()
		if !in.AcknowledgedAt.IsZero() {
			t := in.AcknowledgedAt.UTC()
			acked[i] = &t
		}
		end := now
		if !in.ResolvedAt.IsZero() {
			t := in.ResolvedAt.UTC()
			resolved[i] = &t
			end = t
		}
		dur[i] = end.Sub(in.CreatedAt).Seconds()
	}
	fr := data.NewFrame("incidents",
		data.NewField("id", nil, id),
		data.NewField("title", nil, title),
		data.NewField("state", nil, state),
		data.NewField("severity", nil, sev),
		data.NewField("site", nil, site),
		data.NewField("rack", nil, rack),
		data.NewField("receiver", nil, recv),
		data.NewField("cause", nil, cause),
		data.NewField("alerts", nil, alerts),
		data.NewField("firing", nil, firing),
		data.NewField("created", nil, created),
		data.NewField("acknowledged", nil, acked),
		data.NewField("resolved", nil, resolved),
		data.NewField("duration", nil, dur).SetConfig(&data.FieldConfig{Unit: "s"}),
		data.NewField("labels", nil, labels),
	)
	fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return fr
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ", ")
}

// timelineEvent is an event with the incident it belongs to.
type timelineEvent struct {
	store.TimelineEvent
	incident store.Incident
}

// queryTimeline: the timeline of one incident (incidentId), or of every
// incident matching the filters that was open during the range, as one
// frame usable both as a table and as annotations (time, title, text,
// tags).
func (d *Datasource) queryTimeline(ctx context.Context, q Query, tr backend.TimeRange) (backend.DataResponse, error) {
	var (
		details []Detail
		notice  string
	)
	if id := strings.TrimSpace(q.IncidentID); id != "" && id != ".*" && id != "$__all" {
		det, err := d.client.incident(ctx, id)
		if err != nil {
			return backend.DataResponse{}, err
		}
		details = append(details, det)
	} else {
		incs, err := d.list(ctx, q, maxTimelineIncidents, tr.From.Add(-lookback))
		if err != nil {
			return backend.DataResponse{}, err
		}
		var during []store.Incident
		for _, in := range incs {
			// Open at some point of the range.
			if in.CreatedAt.Before(tr.To) && (in.ResolvedAt.IsZero() || !in.ResolvedAt.Before(tr.From)) {
				during = append(during, in)
			}
		}
		if len(during) > maxTimelineIncidents {
			notice = fmt.Sprintf("timelines of the %d newest of %d incidents shown", maxTimelineIncidents, len(during))
			during = during[:maxTimelineIncidents]
		}
		details, err = d.details(ctx, during)
		if err != nil {
			return backend.DataResponse{}, err
		}
	}
	var evs []timelineEvent
	for _, det := range details {
		for _, ev := range det.Timeline {
			if ev.Time.Before(tr.From) || ev.Time.After(tr.To) {
				continue
			}
			evs = append(evs, timelineEvent{ev, det.Incident})
		}
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].ID < evs[j].ID
	})
	fr := TimelineFrame(evs)
	if notice != "" {
		fr.AppendNotices(data.Notice{Severity: data.NoticeSeverityWarning, Text: notice})
	}
	return backend.DataResponse{Frames: data.Frames{fr}}, nil
}

// details reads the incidents' details, four at a time.
func (d *Datasource) details(ctx context.Context, incs []store.Incident) ([]Detail, error) {
	out := make([]Detail, len(incs))
	errs := make([]error, len(incs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, in := range incs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			out[i], errs[i] = d.client.incident(ctx, in.ID)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("incident %q: %w", incs[i].ID, err)
		}
	}
	return out, nil
}

// TimelineFrame is the timeline as a frame Grafana can draw as annotations
// (fields time, title, text, tags) and show as a table (plus kind, actor,
// incident, state).
func TimelineFrame(evs []timelineEvent) *data.Frame {
	n := len(evs)
	ts := make([]time.Time, n)
	title, text, tags, kind, actor, incident, severity := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, ev := range evs {
		ts[i] = ev.Time.UTC()
		title[i] = ev.incident.Title
		text[i] = ev.Summary
		kind[i], actor[i], incident[i], severity[i] = ev.Kind, ev.Actor, ev.incident.ID, ev.incident.Severity
		tg := []string{ev.Kind, ev.incident.Severity}
		if s := ev.incident.Labels["site"]; s != "" {
			tg = append(tg, s)
		}
		if r := ev.incident.Labels["rack"]; r != "" {
			tg = append(tg, r)
		}
		tags[i] = strings.Join(tg, ",")
	}
	fr := data.NewFrame("timeline",
		data.NewField("time", nil, ts),
		data.NewField("title", nil, title),
		data.NewField("text", nil, text),
		data.NewField("tags", nil, tags),
		data.NewField("kind", nil, kind),
		data.NewField("actor", nil, actor),
		data.NewField("incident", nil, incident),
		data.NewField("severity", nil, severity),
	)
	fr.Meta = &data.FrameMeta{PreferredVisualization: data.VisTypeTable}
	return fr
}

// queryMetrics: incident metrics over the range, one point per interval
// (at most MaxDataPoints, at least a minute apart).
func (d *Datasource) queryMetrics(ctx context.Context, q Query, tr backend.TimeRange, interval time.Duration, maxPoints int64) (backend.DataResponse, error) {
	incs, err := d.list(ctx, q, 10000, tr.From.Add(-lookback))
	if err != nil {
		return backend.DataResponse{}, err
	}
	// Incidents still open were maybe opened before the look-back.
	// Resolved ones come from the look-back alone.
	var notResolved []string
	for _, st := range values(q.State) {
		if st != "resolved" {
			notResolved = append(notResolved, st)
		}
	}
	if len(values(q.State)) == 0 {
		notResolved = []string{"open"}
	}
	if len(notResolved) > 0 {
		open := q
		open.State = strings.Join(notResolved, ",")
		more, err := d.list(ctx, open, 10000, time.Time{})
		if err != nil {
			return backend.DataResponse{}, err
		}
		seen := map[string]bool{}
		for _, in := range incs {
			seen[in.ID] = true
		}
		for _, in := range more {
			if !seen[in.ID] {
				incs = append(incs, in)
			}
		}
	}
	return backend.DataResponse{Frames: data.Frames{MetricsFrame(incs, tr, interval, maxPoints, d.now())}}, nil
}

// MetricsFrame buckets incidents over the range: per bucket, incidents
// opened, acknowledged and resolved in it, incidents open at its end, and
// the mean time to acknowledge and to resolve of those acknowledged or
// resolved in it (null when none).
func MetricsFrame(incs []store.Incident, tr backend.TimeRange, interval time.Duration, maxPoints int64, now time.Time) *data.Frame {
	span := tr.To.Sub(tr.From)
	if maxPoints <= 0 || maxPoints > 11000 {
		maxPoints = 1000
	}
	step := max(interval, time.Minute, span/time.Duration(maxPoints))
	step = step.Truncate(time.Second)
	start := tr.From.Truncate(step)
	var n int
	if span > 0 {
		n = int((tr.To.Sub(start) + step - 1) / step)
	}
	ts := make([]time.Time, n)
	opened, acked, resolved, open := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	mtta, mttr := make([]*float64, n), make([]*float64, n)
	sumA, sumR := make([]float64, n), make([]float64, n)
	bucket := func(t time.Time) int {
		if t.Before(start) || !t.Before(start.Add(time.Duration(n)*step)) {
			return -1
		}
		return int(t.Sub(start) / step)
	}
	for i := range n {
		ts[i] = start.Add(time.Duration(i+1) * step).UTC()
		if ts[i].After(now) {
			ts[i] = now.UTC()
		}
	}
	for _, in := range incs {
		if b := bucket(in.CreatedAt); b >= 0 {
			opened[b]++
		}
		if !in.AcknowledgedAt.IsZero() {
			if b := bucket(in.AcknowledgedAt); b >= 0 {
				acked[b]++
				sumA[b] += in.AcknowledgedAt.Sub(in.CreatedAt).Seconds()
			}
		}
		if !in.ResolvedAt.IsZero() {
			if b := bucket(in.ResolvedAt); b >= 0 {
				resolved[b]++
				sumR[b] += in.ResolvedAt.Sub(in.CreatedAt).Seconds()
			}
		}
		for i := range n {
			end := ts[i]
			if !in.CreatedAt.After(end) && (in.ResolvedAt.IsZero() || in.ResolvedAt.After(end)) {
				open[i]++
			}
		}
	}
	for i := range n {
		if acked[i] > 0 {
			v := sumA[i] / float64(acked[i])
			mtta[i] = &v
		}
		if resolved[i] > 0 {
			v := sumR[i] / float64(resolved[i])
			mttr[i] = &v
		}
	}
	fr := data.NewFrame("incident metrics",
		data.NewField("time", nil, ts),
		data.NewField("open", nil, open),
		data.NewField("opened", nil, opened),
		data.NewField("acknowledged", nil, acked),
		data.NewField("resolved", nil, resolved),
		data.NewField("mtta", nil, mtta).SetConfig(&data.FieldConfig{Unit: "s", DisplayNameFromDS: "mean time to acknowledge"}),
		data.NewField("mttr", nil, mttr).SetConfig(&data.FieldConfig{Unit: "s", DisplayNameFromDS: "mean time to resolve"}),
	)
	fr.Meta = &data.FrameMeta{Type: data.FrameTypeTimeSeriesWide, TypeVersion: data.FrameTypeVersion{0, 1}}
	return fr
}

package postmortem

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
)

// Entry categories: what an entry is about, whatever its source.
const (
	CatAlert       = "alert"       // an alert's state changed
	CatIncident    = "incident"    // created, escalated, acknowledged, note, resolved, reopened
	CatPage        = "page"        // a notification queued, sent or failed
	CatRemediation = "remediation" // a remediation decision or run
	CatSilence     = "silence"     // a silence or maintenance window
	CatTrap        = "trap"        // an SNMP trap
	CatHardwareLog = "hardware_log"
	CatLifecycle   = "lifecycle" // a server's lifecycle state changed
	CatChange      = "change"    // a config reload, a deploy, another change event
	CatOther       = "other"
)

// Entry sources: where the fact was read.
const (
	SourceAlerter     = "alerter"     // the alerter's timeline
	SourceALERTS      = "ALERTS"      // the ALERTS series of the TSDB
	SourceNotifier    = "notifier"    // the outbox's outcome of a page
	SourceRemediation = "remediation" // the remediation engine's audit
)

// Ways an entry stands for several.
const (
	CollapsedFlapping = "flapping" // one alert that fired again and again
	CollapsedBurst    = "burst"    // identical events in quick succession
	CollapsedGroup    = "group"    // similar entries grouped to bound a long timeline
	CollapsedOmitted  = "omitted"  // entries left out to bound the timeline
)

// Entry is one line of a timeline.
type Entry struct {
	Time time.Time `json:"time"`
	// Until is the time of the last entry a collapsed line stands for.
	Until    time.Time         `json:"until,omitzero"`
	Source   string            `json:"source"`
	Category string            `json:"category"`
	Kind     string            `json:"kind"`
	Actor    string            `json:"actor,omitempty"`
	Summary  string            `json:"summary"`
	Severity string            `json:"severity,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Count is how many entries the line stands for (1 when not collapsed).
	Count     int    `json:"count"`
	Collapsed string `json:"collapsed,omitempty"`
	// EventID is the alerter's timeline event (its first one), 0 for
	// entries read from the TSDB.
	EventID int64 `json:"eventID,omitempty"`
}

// Collapse tunes how noise collapses. The zero value takes the defaults.
type Collapse struct {
	// FlapThreshold: an alert that fired this many times or more in the
	// timeline becomes one line with the count (default 3).
	FlapThreshold int
	// BurstGap: identical events (same source, kind, device and summary)
	// less than this apart become one line (default 1 minute).
	BurstGap time.Duration
	// MaxEntries bounds the timeline (default 300): past it, entries other
	// than incident changes, pages, remediation and changes are grouped by
	// kind and alert, then the middle is left out with a count.
	MaxEntries int
	// SeriesGap: ALERTS samples further apart than this are separate
	// firings (default 2 minutes).
	SeriesGap time.Duration
	// Before and After widen an incident's window (default 1 hour before
	// it opened and 15 minutes after it resolved) for fleet events on its
	// devices, changes, and the ALERTS series.
	Before, After time.Duration
	// Raw keeps every entry (no collapsing, no bound), for the API's
	// ?raw=1 and exports.
	Raw bool
}

func (c Collapse) withDefaults() Collapse {
	if c.FlapThreshold <= 0 {
		c.FlapThreshold = 3
	}
	if c.BurstGap <= 0 {
		c.BurstGap = time.Minute
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 300
	}
	if c.MaxEntries < 10 {
		c.MaxEntries = 10
	}
	if c.SeriesGap <= 0 {
		c.SeriesGap = 2 * time.Minute
	}
	if c.Before <= 0 {
		c.Before = time.Hour
	}
	if c.After <= 0 {
		c.After = 15 * time.Minute
	}
	return c
}

// Timeline is the merged, collapsed history of a selection.
type Timeline struct {
	Selection string `json:"selection"`
	// Incident is the selected incident (nil for a time range).
	Incident *store.Incident `json:"incident,omitempty"`
	From     time.Time       `json:"from"`
	To       time.Time       `json:"to"`
	Entries  []Entry         `json:"entries"`
	// RawEntries is how many entries were read before collapsing.
	RawEntries int `json:"rawEntries"`
	// Warnings say what could not be read; the timeline goes on without it.
	Warnings []string `json:"warnings,omitempty"`

	// alerts and events are the incident's stored alerts and timeline
	// events (for metrics and the report).
	alerts []store.Alert
	events []store.TimelineEvent
}

// BuildTimeline reads and merges everything the selection covers, in time
// order, each entry with its source, and collapses the noise (c: zero value
// for the defaults). An unknown incident is an error wrapping ErrNotFound.
func BuildTimeline(ctx context.Context, src Sources, sel Selection) (Timeline, error) {
	return buildTimeline(ctx, src, sel, Collapse{})
}

// BuildTimelineWith is BuildTimeline with collapse settings.
func BuildTimelineWith(ctx context.Context, src Sources, sel Selection, c Collapse) (Timeline, error) {
	return buildTimeline(ctx, src, sel, c)
}

func buildTimeline(ctx context.Context, src Sources, sel Selection, c Collapse) (Timeline, error) {
	if src.Store == nil {
		return Timeline{}, errors.New("postmortem: no store to read")
	}
	if err := sel.Validate(); err != nil {
		return Timeline{}, err
	}
	c = c.withDefaults()
	tl := Timeline{Selection: sel.String()}
	var raw []Entry
	if sel.IncidentID != "" {
		inc, err := src.Store.GetIncident(ctx, sel.IncidentID)
		if err != nil {
			return Timeline{}, fmt.Errorf("incident %q: %w", sel.IncidentID, err)
		}
		tl.Incident = &inc
		if tl.Selection = "incident " + inc.ID; inc.Title != "" {
			tl.Selection += ": " + inc.Title
		}
		evs, err := src.Store.ListEvents(ctx, store.EventFilter{IncidentID: inc.ID})
		if err != nil {
			return Timeline{}, fmt.Errorf("incident %q: timeline: %w", inc.ID, err)
		}
		alerts, err := src.Store.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID})
		if err != nil {
			return Timeline{}, fmt.Errorf("incident %q: alerts: %w", inc.ID, err)
		}
		tl.alerts, tl.events = alerts, evs
		start, end := incidentSpan(inc, evs, alerts, src.now())
		tl.From, tl.To = start.Add(-c.Before), end.Add(c.After)
		for _, e := range evs {
			raw = append(raw, tl.entryOf(e))
		}
		// Fleet-level events on the incident's devices, and changes.
		devs := deviceKeys(inc.Labels, alerts)
		fleet, err := src.Store.ListEvents(ctx, store.EventFilter{Since: tl.From, Until: tl.To,
			Kinds: []string{store.EventExternal, store.EventConfigReload, store.EventLifecycle}})
		if err != nil {
			tl.warn("fleet events %s to %s: %v", fmtTime(tl.From), fmtTime(tl.To), err)
		}
		for _, e := range fleet {
			if e.IncidentID == "" && relevantToDevices(e, devs) {
				raw = append(raw, tl.entryOf(e))
			}
		}
		if src.hasTSDB() && len(alerts) > 0 {
			raw = append(raw, alertsSeriesEntries(ctx, src, &tl, alertsMatchersFor(alerts), alerts, c)...)
		}
	} else {
		tl.From, tl.To = sel.From, sel.To
		evs, err := src.Store.ListEvents(ctx, store.EventFilter{Since: sel.From, Until: sel.To})
		if err != nil {
			return Timeline{}, fmt.Errorf("events %s to %s: %w", fmtTime(sel.From), fmtTime(sel.To), err)
		}
		// An event without labels (an acknowledgement, a note, a page) is
		// matched on its incident's labels; a fleet-wide one (a config
		// reload) always belongs.
		incLabels := map[string]map[string]string{}
		for _, e := range evs {
			ls := e.Labels
			if len(ls) == 0 && e.IncidentID != "" && len(sel.Matchers) > 0 {
				il, ok := incLabels[e.IncidentID]
				if !ok {
					inc, err := src.Store.GetIncident(ctx, e.IncidentID)
					if err != nil {
						tl.warn("incident %q of event %d: %v", e.IncidentID, e.ID, err)
					}
					il = inc.Labels
					incLabels[e.IncidentID] = il
				}
				ls = il
			}
			if len(ls) == 0 && e.IncidentID == "" || matchAll(sel.Matchers, ls) {
				raw = append(raw, tl.entryOf(e))
			}
		}
		if src.hasTSDB() {
			ms := append([]*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "ALERTS")}, sel.Matchers...)
			raw = append(raw, alertsSeriesEntries(ctx, src, &tl, ms, nil, c)...)
		}
	}
	sort.SliceStable(raw, func(i, j int) bool { return raw[i].Time.Before(raw[j].Time) })
	tl.RawEntries = len(raw)
	if c.Raw {
		tl.Entries = raw
	} else {
		tl.Entries = collapse(raw, c)
	}
	if tl.Entries == nil {
		tl.Entries = []Entry{}
	}
	for _, w := range tl.Warnings {
		src.logger().Warn("timeline built without part of its input", "selection", tl.Selection, "detail", w)
	}
	return tl, nil
}

func (tl *Timeline) warn(format string, args ...any) {
	if len(tl.Warnings) < 20 {
		tl.Warnings = append(tl.Warnings, fmt.Sprintf(format, args...))
	}
}

// incidentSpan is when the incident began (the earlier of its creation and
// its first alert's start) and ended (resolution, or now while open).
func incidentSpan(inc store.Incident, evs []store.TimelineEvent, alerts []store.Alert, now time.Time) (time.Time, time.Time) {
	start, end := inc.CreatedAt, inc.ResolvedAt
	for _, a := range alerts {
		if !a.StartsAt.IsZero() && a.StartsAt.Before(start) {
			start = a.StartsAt
		}
	}
	if len(evs) > 0 && evs[0].Time.Before(start) {
		start = evs[0].Time
	}
	if inc.State != store.Resolved || end.IsZero() {
		end = now
	}
	if n := len(evs); n > 0 && evs[n-1].Time.After(end) {
		end = evs[n-1].Time
	}
	return start, end
}

// eventData is the union of the fields fleetwatch writes in events' Data.
type eventData struct {
	Source     string            `json:"source"`
	Kind       string            `json:"kind"`
	Severity   string            `json:"severity"`
	Attributes map[string]string `json:"attributes"`
	// notifications
	Action   string `json:"action"`
	Receiver string `json:"receiver"`
	Attempt  int    `json:"attempt"`
	// remediation
	Remediation string `json:"remediation"`
	Status      string `json:"status"`
	Guard       string `json:"guard"`
	Target      string `json:"target"`
	DryRun      bool   `json:"dry_run"`
}

// decodeData reads an event's Data; what does not decode is left out.
func decodeData(raw json.RawMessage) (eventData, error) {
	var d eventData
	if len(raw) == 0 || string(raw) == "null" {
		return d, nil
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		// Fields of an unexpected type: keep the ones that decode.
		var loose map[string]any
		if json.Unmarshal(raw, &loose) != nil {
			return eventData{}, err
		}
		str := func(k string) string { s, _ := loose[k].(string); return s }
		d = eventData{Source: str("source"), Kind: str("kind"), Severity: str("severity"), Action: str("action"),
			Receiver: str("receiver"), Remediation: str("remediation"), Status: str("status"), Guard: str("guard"), Target: str("target")}
		return d, err
	}
	return d, nil
}

// entryOf turns a stored timeline event into an entry.
func (tl *Timeline) entryOf(e store.TimelineEvent) Entry {
	d, err := decodeData(e.Data)
	if err != nil {
		tl.warn("event %d (%s): data: %v", e.ID, e.Kind, err)
	}
	en := Entry{Time: e.Time, Kind: e.Kind, Actor: e.Actor, Summary: e.Summary, Labels: e.Labels, Count: 1, EventID: e.ID,
		Source: SourceAlerter, Category: CatOther}
	switch e.Kind {
	case store.EventAlertFiring, store.EventAlertResolved, store.EventAlertSuppressed, store.EventIncidentGrouped:
		en.Category = CatAlert
		en.Severity = e.Labels["severity"]
	case store.EventIncidentCreated, store.EventIncidentEscalated, store.EventAcknowledged, store.EventResolved,
		store.EventReopened, store.EventNote:
		en.Category = CatIncident
	case store.EventNotificationQueued, store.EventNotificationSent, store.EventNotificationFailed:
		en.Category, en.Source = CatPage, SourceNotifier
	case store.EventRemediationProposed, store.EventRemediationSkipped, store.EventRemediationApproved,
		store.EventRemediationStarted, store.EventRemediationFinished:
		en.Category, en.Source = CatRemediation, SourceRemediation
		if d.Guard != "" && !strings.Contains(en.Summary, d.Guard) {
			en.Summary += " (guard " + d.Guard + ")"
		}
		if d.DryRun && !strings.Contains(strings.ToLower(en.Summary), "dry") {
			en.Summary += " (dry run)"
		}
	case store.EventSilenceCreated, store.EventSilenceExpired:
		en.Category = CatSilence
	case store.EventConfigReload:
		en.Category, en.Source = CatChange, events.SourceConfig
	case store.EventLifecycle:
		en.Category, en.Source = CatLifecycle, events.SourceLifecycle
	case store.EventExternal:
		if d.Source != "" {
			en.Source = d.Source
		}
		if d.Kind != "" {
			en.Kind = d.Kind
		}
		en.Severity = d.Severity
		switch d.Source {
		case events.SourceSNMPTrap:
			en.Category = CatTrap
		case events.SourceRedfishLog:
			en.Category = CatHardwareLog
		case events.SourceLifecycle:
			en.Category = CatLifecycle
		default:
			en.Category = CatChange
		}
	}
	if en.Summary == "" {
		en.Summary = en.Kind
	}
	return en
}

// deviceLabels name a device; topology labels name where it sits.
var (
	deviceLabelNames = []string{"server", "switch", "hostname", "instance", "bmc", "device"}
)

// deviceKeys are "label=value" keys of the incident's devices and racks.
func deviceKeys(incLabels map[string]string, alerts []store.Alert) map[string]bool {
	keys := map[string]bool{}
	add := func(ls map[string]string) {
		for _, n := range deviceLabelNames {
			if v := ls[n]; v != "" {
				keys[n+"="+v] = true
				keys["*="+v] = true
			}
		}
		if v := ls["rack"]; v != "" {
			keys["rack="+v] = true
		}
	}
	add(incLabels)
	for _, a := range alerts {
		add(a.Labels)
	}
	return keys
}

// relevantToDevices keeps fleet-wide changes and events on the devices.
func relevantToDevices(e store.TimelineEvent, devs map[string]bool) bool {
	switch e.Kind {
	case store.EventConfigReload:
		return true
	}
	if len(e.Labels) == 0 {
		return e.Kind != store.EventExternal
	}
	for _, n := range deviceLabelNames {
		if v := e.Labels[n]; v != "" && (devs[n+"="+v] || devs["*="+v]) {
			return true
		}
	}
	return e.Labels["rack"] != "" && devs["rack="+e.Labels["rack"]]
}

func matchAll(ms []*labels.Matcher, ls map[string]string) bool {
	for _, m := range ms {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// deviceOf names the device an entry concerns.
func deviceOf(ls map[string]string) string {
	for _, n := range deviceLabelNames {
		if v := ls[n]; v != "" {
			return v
		}
	}
	return ""
}

// alertKey identifies an alert by its labels (alertstate and __name__ left out).
func alertKey(ls map[string]string) string {
	keys := slices.Sorted(maps.Keys(ls))
	var b strings.Builder
	for _, k := range keys {
		if k == "alertstate" || k == labels.MetricName {
			continue
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(ls[k])
		b.WriteByte(',')
	}
	return b.String()
}

// alertString shows an alert as name{device} for summaries.
func alertString(ls map[string]string) string {
	name := ls["alertname"]
	if d := deviceOf(ls); d != "" {
		return name + "{" + d + "}"
	}
	return name
}

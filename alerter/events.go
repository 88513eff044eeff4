package alerter

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
)

// Event kinds with a meaning of their own to the alerter.
const (
	EventMaintenanceStart = "maintenance_start"
	EventMaintenanceEnd   = "maintenance_end"
)

// DefaultMaintenanceDuration bounds a maintenance_start event that names
// no end ("ends_at" or "duration" attribute).
const DefaultMaintenanceDuration = 24 * time.Hour

var _ events.Sink = (*Engine)(nil)

// HandleEvent takes an event (an SNMP trap, a Redfish log entry, a change
// or maintenance event from POST /api/v1/events): it goes on the timeline
// of the open incident it concerns (same device, or the topology cluster
// it belongs to) or on the fleet's timeline; a configured upstream kind
// (linkDown) opens or names a correlation cluster; maintenance_start and
// maintenance_end mute and unmute paging for the event's labels.
func (e *Engine) HandleEvent(ctx context.Context, ev events.Event) error {
	if ev.Kind == "" {
		return errors.New("event: kind is empty")
	}
	if len(ev.Labels) == 0 {
		return fmt.Errorf("event %q: labels are empty (name the device)", ev.Kind)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.standby {
		return fmt.Errorf("event %q: %w", ev.Kind, e.errStandby())
	}
	now := e.now()
	if ev.Time.IsZero() {
		ev.Time = now
	}
	b := e.newBatch(now)
	incID := ""
	var upstream *cluster
	switch ev.Kind {
	case EventMaintenanceStart, EventMaintenanceEnd:
		if err := e.maintenanceEvent(b, ev, now); err != nil {
			return err
		}
	default:
		if e.corr.enabled() && slices.Contains(e.corr.cfg.UpstreamEvents, ev.Kind) {
			for _, l := range e.corr.cfg.TopologyLabels {
				v := ev.Labels[l]
				if v == "" {
					continue
				}
				cause := fmt.Sprintf("%s %s %s", l, v, describeKind(ev.Kind))
				if p := portOf(ev.Labels, ev.Attributes); p != "" {
					cause = fmt.Sprintf("%s %s port %s %s", l, v, p, describeKind(ev.Kind))
				}
				cl := e.corr.signal(l, v, cause, ev.Time, now)
				upstream = cl
				if g := cl.group; g != nil && e.groups[g.key] == g {
					incID = e.renameCluster(b, g, now)
				}
				break
			}
		}
	}
	if incID == "" {
		incID = e.incidentFor(ev.Labels, now)
	}
	data, _ := json.Marshal(map[string]any{"source": ev.Source, "kind": ev.Kind, "severity": ev.Severity, "attributes": ev.Attributes, "time": ev.Time})
	summary := ev.Summary
	if summary == "" {
		summary = fmt.Sprintf("%s %s from %s", ev.Source, ev.Kind, deviceOf(ev.Labels))
	}
	tev := store.TimelineEvent{IncidentID: incID, Time: ev.Time, Kind: store.EventExternal, Actor: "event:" + ev.Source,
		Summary: summary, Labels: ev.Labels, Data: data}
	switch {
	case incID == "" && upstream != nil && upstream.group != nil:
		// Its incident is about to open (group_wait): it goes on that
		// timeline then.
		upstream.pending = append(upstream.pending, tev)
	case incID == "" && upstream != nil:
		b.event(tev)
		upstream.pending = append(upstream.pending, tev)
	default:
		b.event(tev)
	}
	e.flushDueLocked(b, now)
	e.metrics.events.WithLabelValues(ev.Source).Inc()
	return e.commit(ctx, b)
}

// renameCluster refreshes the title of a correlation incident after its
// cause became known, and returns the incident's ID ("" if not open yet).
func (e *Engine) renameCluster(b *batch, g *group, now time.Time) string {
	if g.inc == nil {
		return ""
	}
	var all []*alertEntry
	for _, a := range g.alerts {
		all = append(all, a)
	}
	g.inc.Cause = g.cluster.cause
	g.inc.Title = g.cluster.title(all, now)
	g.inc.UpdatedAt = now
	b.updateIncident(g.inc)
	return g.inc.ID
}

func describeKind(kind string) string {
	switch kind {
	case "linkDown":
		return "down"
	case "linkUp":
		return "up"
	}
	return kind
}

func deviceOf(ls map[string]string) string {
	if d := firstOf(ls, "switch", "server", "hostname", "instance", "device"); d != "" {
		return d
	}
	return labelSetString(ls)
}

// incidentFor finds the open incident an event with labels concerns: a
// correlation cluster of one of its topology values, else a group with an
// alert of the same device.
func (e *Engine) incidentFor(ls map[string]string, now time.Time) string {
	if e.corr.enabled() {
		topo := e.topology(ls)
		for _, l := range e.corr.cfg.TopologyLabels {
			if v := topo[l]; v != "" {
				if cl := e.corr.clusters[l+"="+v]; cl != nil && cl.group != nil && cl.group.inc != nil {
					return cl.group.inc.ID
				}
			}
		}
	}
	dev := ""
	for _, l := range append([]string{"switch"}, e.cfg.Correlation.ServerLabels...) {
		if v := ls[l]; v != "" {
			dev = hostOf(v)
			break
		}
	}
	if dev == "" {
		return ""
	}
	best := ""
	for _, g := range e.groups {
		if g.inc == nil {
			continue
		}
		for _, a := range g.alerts {
			for _, l := range append([]string{"switch"}, e.cfg.Correlation.ServerLabels...) {
				if v := a.a.Labels[l]; v != "" && hostOf(v) == dev {
					if best == "" || g.inc.ID < best {
						best = g.inc.ID
					}
				}
			}
		}
	}
	return best
}

// maintenanceEvent turns maintenance_start into a silence on the event's
// labels (durable, shown in the silences API as created by
// "maintenance:<source>") and maintenance_end into its expiry.
func (e *Engine) maintenanceEvent(b *batch, ev events.Event, now time.Time) error {
	id := maintenanceSilenceID(ev.Labels)
	if ev.Kind == EventMaintenanceEnd {
		se := e.silences[id]
		if se == nil {
			return nil
		}
		s := se.s
		if s.EndsAt.After(now) {
			s.EndsAt = now
		}
		s.UpdatedAt = now
		e.putSilenceLocked(s)
		b.silences = append(b.silences, s)
		b.event(store.TimelineEvent{Kind: store.EventSilenceExpired, Labels: ev.Labels, Actor: "event:" + ev.Source,
			Summary: "maintenance ended for " + labelSetString(ev.Labels)})
		e.recheckAll(b, now)
		return nil
	}
	end, err := maintenanceEnd(ev, now)
	if err != nil {
		return err
	}
	s := store.Silence{ID: id, StartsAt: now, EndsAt: end, UpdatedAt: now,
		CreatedBy: maintenancePrefix + ev.Source, Comment: "maintenance: " + ev.Summary}
	for _, k := range sortedKeys(ev.Labels) {
		s.Matchers = append(s.Matchers, store.Matcher{Name: k, Value: ev.Labels[k], IsEqual: true})
	}
	e.putSilenceLocked(s)
	b.silences = append(b.silences, s)
	b.event(store.TimelineEvent{Kind: store.EventSilenceCreated, Labels: ev.Labels, Actor: "event:" + ev.Source,
		Summary: fmt.Sprintf("maintenance until %s for %s", end.UTC().Format(time.RFC3339), labelSetString(ev.Labels))})
	e.recheckAll(b, now)
	return nil
}

// maintenanceEnd is when a maintenance_start event's window ends: its
// ends_at or duration attribute, else DefaultMaintenanceDuration from now.
func maintenanceEnd(ev events.Event, now time.Time) (time.Time, error) {
	if v := ev.Attributes["ends_at"]; v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("event %s: attributes.ends_at %q: %w", ev.Kind, v, err)
		}
		return t, nil
	}
	if v := ev.Attributes["duration"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return time.Time{}, fmt.Errorf("event %s: attributes.duration %q: %w", ev.Kind, v, err)
		}
		return now.Add(d), nil
	}
	return now.Add(DefaultMaintenanceDuration), nil
}

// ValidateEvent reports what HandleEvent would refuse in ev, so an intake
// can refuse a whole batch before taking any of it.
func ValidateEvent(ev events.Event) error {
	if ev.Kind == EventMaintenanceStart {
		_, err := maintenanceEnd(ev, time.Now())
		return err
	}
	return nil
}

func maintenanceSilenceID(ls map[string]string) string {
	h := sha256.Sum256([]byte(labelSetString(ls)))
	return "maint-" + hex.EncodeToString(h[:8])
}

// recheckAll re-evaluates the suppression of every firing alert after a
// silence changed, so alerts leave or join their groups at once.
func (e *Engine) recheckAll(b *batch, now time.Time) {
	for _, ent := range e.alerts {
		if ent.firing(now) && ent.suppGen != e.suppGen {
			e.classify(b, ent, now)
		}
	}
}

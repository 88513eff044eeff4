package alerter

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	amlabels "github.com/prometheus/alertmanager/pkg/labels"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// silenceEntry is a silence with its matchers compiled.
type silenceEntry struct {
	s        store.Silence
	matchers []*amlabels.Matcher
}

// compileSilence turns API v2 matchers into Alertmanager matchers.
func compileSilence(s store.Silence) (*silenceEntry, error) {
	se := &silenceEntry{s: s}
	for i, m := range s.Matchers {
		t := amlabels.MatchEqual
		switch {
		case m.IsRegex && m.IsEqual:
			t = amlabels.MatchRegexp
		case m.IsRegex:
			t = amlabels.MatchNotRegexp
		case !m.IsEqual:
			t = amlabels.MatchNotEqual
		}
		mm, err := amlabels.NewMatcher(t, m.Name, m.Value)
		if err != nil {
			return nil, fmt.Errorf("matchers[%d] (%s): %w", i, m.Name, err)
		}
		se.matchers = append(se.matchers, mm)
	}
	return se, nil
}

func (s *silenceEntry) active(now time.Time) bool {
	return !now.Before(s.s.StartsAt) && now.Before(s.s.EndsAt)
}

func (s *silenceEntry) matches(ls map[string]string) bool {
	for _, m := range s.matchers {
		if !m.Matches(ls[m.Name]) {
			return false
		}
	}
	return true
}

// putSilenceLocked installs or replaces a silence in memory.
func (e *Engine) putSilenceLocked(s store.Silence) {
	se, err := compileSilence(s)
	if err != nil {
		e.log.Warn("stored silence has a bad matcher; ignored", "silence", s.ID, "err", err)
		return
	}
	e.silences[s.ID] = se
	e.suppGen++
}

// maintenancePrefix marks silences made from maintenance_start events.
const maintenancePrefix = "maintenance:"

// suppression says why ent pages nobody at now ("" if it pages):
// maintenance from the inventory's lifecycle state, a silence, or an
// inhibition rule, in that order.
func (e *Engine) suppression(ent *alertEntry, now time.Time) string {
	ent.suppGen = e.suppGen
	ls := ent.a.Labels
	if srv := e.server(ls); srv != nil && e.maint[srv.Lifecycle] {
		return "maintenance:" + string(srv.Lifecycle)
	}
	ids := make([]string, 0, 1)
	for id, s := range e.silences {
		if s.active(now) && s.matches(ls) {
			ids = append(ids, id)
		}
	}
	if len(ids) > 0 {
		sort.Strings(ids)
		if s := e.silences[ids[0]]; strings.HasPrefix(s.s.CreatedBy, maintenancePrefix) {
			return "maintenance:" + strings.TrimPrefix(s.s.CreatedBy, maintenancePrefix)
		}
		return "silenced:" + ids[0]
	}
	for _, st := range e.inhibit {
		if st.rule.TargetMatchers.matches(ls) && st.inhibited(ent) {
			return "inhibited"
		}
	}
	return ""
}

// recheckSuppression is classify for an alert already in groups.
func (e *Engine) recheckSuppression(b *batch, ent *alertEntry, now time.Time) {
	supp := e.suppression(ent, now)
	if supp == ent.supp {
		return
	}
	ent.supp = supp
	ent.a.Suppressed = supp
	b.putAlert(ent)
	if supp != "" {
		ent.noted = true
		b.event(store.TimelineEvent{IncidentID: ent.a.IncidentID, Kind: store.EventAlertSuppressed, Labels: ent.a.Labels,
			Summary: fmt.Sprintf("alert %s does not page: %s", alertName(ent.a.Labels), supp)})
	}
}

// SilencedBy returns the IDs of active silences muting ls, and
// InhibitedBy the fingerprints of alerts inhibiting it (for the API).
func (e *Engine) mutedBy(ent *alertEntry, now time.Time) (silenced, inhibited []string) {
	for id, s := range e.silences {
		if s.active(now) && s.matches(ent.a.Labels) {
			silenced = append(silenced, id)
		}
	}
	sort.Strings(silenced)
	for _, st := range e.inhibit {
		if st.rule.TargetMatchers.matches(ent.a.Labels) {
			for fp := range st.sources[st.key(ent.a.Labels)] {
				if fp != ent.a.Fingerprint {
					inhibited = append(inhibited, fp)
				}
			}
		}
	}
	sort.Strings(inhibited)
	return silenced, inhibited
}

// inhibitState holds the firing source alerts of one inhibit rule, by the
// values of its equal labels.
type inhibitState struct {
	rule    *InhibitRule
	sources map[string]map[string]bool
}

func (s *inhibitState) key(ls map[string]string) string {
	var b strings.Builder
	for _, l := range s.rule.Equal {
		b.WriteString(ls[l])
		b.WriteByte(0xff)
	}
	return b.String()
}

// inhibited: a firing source alert with the same equal-label values that
// is not the target itself (Alertmanager's rule).
func (s *inhibitState) inhibited(ent *alertEntry) bool {
	src := s.sources[s.key(ent.a.Labels)]
	if len(src) == 0 {
		return false
	}
	if len(src) == 1 && src[ent.a.Fingerprint] {
		return false
	}
	return true
}

// trackInhibitSource adds or removes ent as a source of each rule.
func (e *Engine) trackInhibitSource(ent *alertEntry) {
	now := e.now()
	for _, st := range e.inhibit {
		k := st.key(ent.a.Labels)
		isSrc := ent.firing(now) && st.rule.SourceMatchers.matches(ent.a.Labels)
		set := st.sources[k]
		had := set[ent.a.Fingerprint]
		switch {
		case isSrc && !had:
			if set == nil {
				set = map[string]bool{}
				st.sources[k] = set
			}
			set[ent.a.Fingerprint] = true
			e.suppGen++
		case !isSrc && had:
			delete(set, ent.a.Fingerprint)
			if len(set) == 0 {
				delete(st.sources, k)
			}
			e.suppGen++
		}
	}
}

// invIndex maps hostnames to the inventory's servers and switches.
type invIndex struct {
	inv      *inventory.Inventory
	servers  map[string]*inventory.Server
	switches map[string]*inventory.Switch
}

func (e *Engine) index() *invIndex {
	if e.o.Inventory == nil {
		return nil
	}
	inv := e.o.Inventory()
	if inv == nil {
		return nil
	}
	if e.inv.inv != inv {
		e.inv = invIndex{inv: inv, servers: map[string]*inventory.Server{}, switches: map[string]*inventory.Switch{}}
		for i := range inv.Servers {
			s := &inv.Servers[i]
			e.inv.servers[s.Hostname] = s
			if s.Address != "" {
				e.inv.servers[hostOf(s.Address)] = s
			}
		}
		for i := range inv.Switches {
			e.inv.switches[inv.Switches[i].Hostname] = &inv.Switches[i]
		}
		e.suppGen++
	}
	return &e.inv
}

// server finds the inventory server an alert or event is about.
func (e *Engine) server(ls map[string]string) *inventory.Server {
	ix := e.index()
	if ix == nil {
		return nil
	}
	for _, l := range e.cfg.Correlation.ServerLabels {
		if v := ls[l]; v != "" {
			if s := ix.servers[hostOf(v)]; s != nil {
				return s
			}
		}
	}
	return nil
}

// hostOf strips a port from an instance label ("host:9100" → "host").
func hostOf(v string) string {
	if h, _, err := net.SplitHostPort(v); err == nil {
		return h
	}
	return v
}

// topology returns the alert's value for each topology label: its own
// label, else the field of its inventory server.
func (e *Engine) topology(ls map[string]string) map[string]string {
	labels := e.cfg.Correlation.TopologyLabels
	out := make(map[string]string, len(labels))
	srv := e.server(ls)
	for _, l := range labels {
		v := ls[l]
		if v == "" && srv != nil {
			v = serverField(srv, l)
		}
		if v != "" {
			out[l] = v
		}
	}
	return out
}

func serverField(s *inventory.Server, l string) string {
	switch l {
	case "site":
		return s.Site
	case "row":
		return s.Row
	case "rack":
		return s.Rack
	case "switch":
		return s.Switch
	case "switch_port":
		return s.SwitchPort
	case "server", "hostname":
		return s.Hostname
	case "lifecycle":
		return string(s.Lifecycle)
	}
	return s.Labels[l]
}

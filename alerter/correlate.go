package alerter

import (
	"fmt"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"sort"
	"strings"
	"time"
)

// correlator tracks topology clusters: a switch, rack, PDU or site whose
// servers alert together, or from which an upstream signal (a linkDown
// trap, a SwitchDown alert) came.
type correlator struct {
	cfg      *Correlation
	clusters map[string]*cluster      // "switch=sw-r12"
	seen     map[string][]sighting    // "rack=R12" → recent alerts there
	byAlert  map[*alertEntry][]string // topology keys an alert was counted under
}

type sighting struct {
	ent *alertEntry
	at  time.Time
}

// cluster is one correlated topology element.
type cluster struct {
	key, label, value string
	first, last       time.Time
	cause             string // the first upstream signal's description
	causeAt           time.Time
	group             *group
	// pending holds upstream events seen before the cluster's incident
	// opened; they go on its timeline when it does.
	pending []store.TimelineEvent
}

func newCorrelator() *correlator {
	return &correlator{clusters: map[string]*cluster{}, seen: map[string][]sighting{}, byAlert: map[*alertEntry][]string{}}
}

const corrPrefix = "corr:"

func (c *correlator) enabled() bool { return c.cfg != nil && len(c.cfg.TopologyLabels) > 0 }

func (c *correlator) window() time.Duration { return time.Duration(c.cfg.Window) }

// fromGroupKey restores the cluster of a stored correlation incident.
func (c *correlator) fromGroupKey(key string, now time.Time) *cluster {
	rest, ok := strings.CutPrefix(key, corrPrefix)
	if !ok {
		return nil
	}
	l, v, _ := strings.Cut(rest, "=")
	cl := &cluster{key: rest, label: l, value: v, first: now, last: now}
	c.clusters[rest] = cl
	return cl
}

func (c *correlator) active(cl *cluster, now time.Time) bool {
	return cl != nil && now.Sub(cl.last) <= c.window()
}

// signal records an upstream signal (an event, or an upstream alert) for
// the topology element label=value.
func (c *correlator) signal(label, value, cause string, at, now time.Time) *cluster {
	key := label + "=" + value
	cl := c.clusters[key]
	if !c.active(cl, now) {
		cl = &cluster{key: key, label: label, value: value, first: now}
		c.clusters[key] = cl
	}
	cl.last = now
	if cl.cause == "" || at.Before(cl.causeAt) {
		cl.cause, cl.causeAt = cause, at
	}
	return cl
}

// forget drops an alert from the sighting counts.
func (c *correlator) forget(ent *alertEntry) {
	for _, k := range c.byAlert[ent] {
		s := c.seen[k]
		for i := range s {
			if s[i].ent == ent {
				c.seen[k] = append(s[:i], s[i+1:]...)
				break
			}
		}
		if len(c.seen[k]) == 0 {
			delete(c.seen, k)
		}
	}
	delete(c.byAlert, ent)
}

// correlate returns the correlation group ent joins instead of its route
// group r, or nil. An upstream alert opens its device's cluster; an alert
// whose topology element has an active cluster joins it; the min_alerts-th
// alert sharing an element within the window opens a cluster and brings
// along the alerts of that element not yet told to anyone.
func (e *Engine) correlate(b *batch, ent *alertEntry, r *routeNode, now time.Time) *group {
	c := e.corr
	if !c.enabled() {
		return nil
	}
	ls := ent.a.Labels
	if len(c.cfg.UpstreamAlerts) > 0 && c.cfg.UpstreamAlerts.matches(ls) {
		for _, l := range c.cfg.TopologyLabels {
			if v := ls[l]; v != "" {
				cause := fmt.Sprintf("%s %s down (%s)", l, v, alertName(ls))
				if p := portOf(ls, nil); p != "" {
					cause = fmt.Sprintf("%s %s port %s down (%s)", l, v, p, alertName(ls))
				}
				cl := c.signal(l, v, cause, ent.a.StartsAt, now)
				return e.clusterGroup(cl, r, now)
			}
		}
	}
	topo := e.topology(ls)
	ent.topo = topo
	for _, l := range c.cfg.TopologyLabels {
		v := topo[l]
		if v == "" {
			continue
		}
		if cl := c.clusters[l+"="+v]; c.active(cl, now) {
			cl.last = now
			return e.clusterGroup(cl, r, now)
		}
	}
	for _, l := range c.cfg.TopologyLabels {
		v := topo[l]
		if v == "" {
			continue
		}
		k := l + "=" + v
		s := c.seen[k][:0]
		for _, x := range c.seen[k] {
			if now.Sub(x.at) <= c.window() && x.ent.firing(now) {
				s = append(s, x)
			}
		}
		s = append(s, sighting{ent: ent, at: now})
		c.seen[k] = s
		c.byAlert[ent] = append(c.byAlert[ent], k)
		if len(s) >= c.cfg.MinAlerts {
			cl := c.signal(l, v, "", now, now)
			g := e.clusterGroup(cl, r, now)
			for _, x := range s {
				if x.ent == ent || x.ent.a.IncidentID != "" || x.ent.supp != "" {
					continue // already told to someone: it stays where it is
				}
				for _, og := range append([]*group(nil), x.ent.groups...) {
					if og != g && og.cluster == nil {
						e.leave(og, x.ent)
					}
				}
				e.join(g, x.ent, now)
			}
			return g
		}
	}
	return nil
}

// clusterGroup returns the group of cluster cl, routed like the first
// alert that joins it.
func (e *Engine) clusterGroup(cl *cluster, r *routeNode, now time.Time) *group {
	if cl.group != nil && e.groups[cl.group.key] == cl.group {
		return cl.group
	}
	g := e.groupFor(corrPrefix+cl.key, r, map[string]string{cl.label: cl.value}, now)
	g.cluster = cl
	cl.group = g
	return g
}

// title names the probable cause and what it affects, e.g.
// "switch sw-r12 port Et49 down; 38 servers in rack R12 alerting: ServerUnreachable".
func (cl *cluster) title(alerts []*alertEntry, now time.Time) string {
	servers := map[string]bool{}
	racks := map[string]bool{}
	var upstream int
	var down []*alertEntry
	for _, a := range alerts {
		if !a.firing(now) {
			continue
		}
		h := firstOf(a.a.Labels, "server", "hostname", "instance")
		if h == "" {
			continue
		}
		h = hostOf(h)
		if h == cl.value {
			upstream++
			continue
		}
		servers[h] = true
		down = append(down, a)
		if r := a.topo["rack"]; r != "" {
			racks[r] = true
		} else if r := a.a.Labels["rack"]; r != "" {
			racks[r] = true
		}
	}
	where := cl.label + " " + cl.value
	if len(racks) == 1 {
		for r := range racks {
			where = "rack " + r
		}
	}
	affected := fmt.Sprintf("%d servers in %s alerting: %s", len(servers), where, strings.Join(alertNames(down), ", "))
	if len(servers) == 1 {
		affected = fmt.Sprintf("1 server in %s alerting: %s", where, strings.Join(alertNames(down), ", "))
	}
	if cl.cause == "" {
		return affected
	}
	if len(servers) == 0 {
		return cl.cause
	}
	return cl.cause + "; " + affected
}

// portOf finds a port name in labels or event attributes.
func portOf(ls, attrs map[string]string) string {
	for _, k := range []string{"switch_port", "port", "ifName", "ifDescr", "interface"} {
		if v := ls[k]; v != "" {
			return v
		}
		if v := attrs[k]; v != "" {
			return v
		}
	}
	return ""
}

// clusterKeys lists active clusters, for the status API and tests.
func (c *correlator) clusterKeys(now time.Time) []string {
	var out []string
	for k, cl := range c.clusters {
		if c.active(cl, now) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

package alerter

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
)

// routeNode is a Route with inherited settings resolved.
type routeNode struct {
	key            string // Alertmanager-style route key, part of the group key
	receiver       string
	groupBy        []string
	groupByAll     bool
	groupWait      time.Duration
	groupInterval  time.Duration
	repeatInterval time.Duration
	matchers       Matchers
	cont           bool
	mute, active   []string
	children       []*routeNode
	self           []*routeNode // {n}: what match returns for most alerts, shared
}

func buildRoutes(r *Route) *routeNode {
	root := &routeNode{
		key:            "{}",
		receiver:       r.Receiver,
		groupWait:      DefaultGroupWait,
		groupInterval:  DefaultGroupInterval,
		repeatInterval: DefaultRepeatInterval,
	}
	root.apply(r)
	return root
}

// apply copies r's own settings over the inherited ones and builds the
// children.
func (n *routeNode) apply(r *Route) {
	n.self = []*routeNode{n}
	if r.Receiver != "" {
		n.receiver = r.Receiver
	}
	if r.GroupBy != nil {
		n.groupByAll = slices.Contains(r.GroupBy, "...")
		n.groupBy = nil
		if !n.groupByAll {
			n.groupBy = slices.Clone(r.GroupBy)
			sort.Strings(n.groupBy)
			n.groupBy = slices.Compact(n.groupBy)
		}
	}
	if r.GroupWait != nil {
		n.groupWait = time.Duration(*r.GroupWait)
	}
	if r.GroupInterval != nil {
		n.groupInterval = time.Duration(*r.GroupInterval)
	}
	if r.RepeatInterval != nil {
		n.repeatInterval = time.Duration(*r.RepeatInterval)
	}
	n.matchers = r.Matchers
	n.cont = r.Continue
	n.mute = r.MuteTimeIntervals
	n.active = r.ActiveTimeIntervals
	for i, cr := range r.Routes {
		child := &routeNode{
			receiver: n.receiver, groupBy: n.groupBy, groupByAll: n.groupByAll,
			groupWait: n.groupWait, groupInterval: n.groupInterval, repeatInterval: n.repeatInterval,
		}
		ms := make([]string, len(cr.Matchers))
		for j, m := range cr.Matchers {
			ms[j] = m.String()
		}
		child.key = fmt.Sprintf("%s/{%s}/%d", n.key, strings.Join(ms, ","), i)
		child.apply(cr)
		n.children = append(n.children, child)
	}
}

// match returns the routes an alert with labels ls takes, as Alertmanager
// walks its tree: depth first, stopping at the first matching child unless
// that child has continue: true; a node none of whose children match takes
// the alert itself.
func (n *routeNode) match(ls map[string]string) []*routeNode {
	if !n.matchers.matches(ls) {
		return nil
	}
	var all []*routeNode
	for _, c := range n.children {
		m := c.match(ls)
		all = append(all, m...)
		if m != nil && !c.cont {
			break
		}
	}
	if len(all) == 0 {
		return n.self
	}
	return all
}

// groupLabels returns the labels of ls the route groups by.
func (n *routeNode) groupLabels(ls map[string]string) map[string]string {
	if n.groupByAll {
		return ls
	}
	out := make(map[string]string, len(n.groupBy))
	for _, l := range n.groupBy {
		if v, ok := ls[l]; ok && v != "" {
			out[l] = v
		}
	}
	return out
}

// groupKey is the route key plus the group labels, as Alertmanager forms it.
func (n *routeNode) groupKey(gl map[string]string) string {
	return n.key + ":" + labelSetString(gl)
}

// appendGroupKey appends groupKey(groupLabels(ls)) to b without building
// the label set: a known group is found with no allocation.
func (n *routeNode) appendGroupKey(b []byte, ls map[string]string) []byte {
	if n.groupByAll {
		return append(b, n.groupKey(ls)...)
	}
	b = append(b, n.key...)
	b = append(b, ":{"...)
	first := true
	for _, l := range n.groupBy { // sorted, as labelSetString sorts
		v := ls[l]
		if v == "" {
			continue
		}
		if !first {
			b = append(b, ", "...)
		}
		first = false
		b = append(b, l...)
		b = append(b, '=')
		b = strconv.AppendQuote(b, v) // what %q writes
	}
	return append(b, '}')
}

func labelSetString(ls map[string]string) string {
	names := make([]string, 0, len(ls))
	for k := range ls {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%q", k, ls[k])
	}
	b.WriteByte('}')
	return b.String()
}

// walk calls fn for every node.
func (n *routeNode) walk(fn func(*routeNode)) {
	fn(n)
	for _, c := range n.children {
		c.walk(fn)
	}
}

// muted reports whether the route's time intervals keep it quiet at t.
func (n *routeNode) muted(iv *timeinterval.Intervener, t time.Time) (bool, string) {
	if iv == nil {
		return false, ""
	}
	if len(n.mute) > 0 {
		if m, names, err := iv.Mutes(n.mute, t); err == nil && m {
			return true, "mute_time_intervals " + strings.Join(names, ",")
		}
	}
	if len(n.active) > 0 {
		if in, err := iv.ContainsTime(n.active, t); err == nil && !in {
			return true, "outside active_time_intervals " + strings.Join(n.active, ",")
		}
	}
	return false, ""
}

func intervener(c *Config) *timeinterval.Intervener {
	m := make(map[string][]timeinterval.TimeInterval, len(c.TimeIntervals))
	for _, ti := range c.TimeIntervals {
		m[ti.Name] = ti.TimeIntervals
	}
	return timeinterval.NewIntervener(m)
}

// fingerprint is Alertmanager's: the 16 hex digits of the label set's
// model fingerprint.
func fingerprint(ls map[string]string) string {
	return fmt.Sprintf("%016x", model.LabelsToSignature(ls))
}

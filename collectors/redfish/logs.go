package redfish

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/events"
)

// logCursor remembers how far one log has been read: the newest Created
// time handed over and the entry ids seen at exactly that time (so entries
// sharing a second are neither lost nor repeated), plus the ids of entries
// without a usable time.
type logCursor struct {
	primed bool
	last   time.Time
	atLast map[string]bool
	noTime map[string]bool
}

// maxNoTime bounds the ids remembered for entries without a time.
const maxNoTime = 4096

func (p *poll) logServices(ctx context.Context, path, scope, owner string) {
	svcs, err := members[logService](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	var g group
	for _, s := range svcs {
		if s.Entries.ID == "" || (s.ServiceEnabled.ok && !s.ServiceEnabled.v) || !p.serviceWanted(string(s.ID)) {
			continue
		}
		svcID := memberID(path, &s.common)
		g.Go(func() { p.readLog(ctx, s.Entries.ID, svcID, scope, owner) })
	}
	g.Wait()
}

func (p *poll) serviceWanted(id string) bool {
	if len(p.c.cfg.LogServices.Services) == 0 {
		return true
	}
	for _, s := range p.c.cfg.LogServices.Services {
		if strings.EqualFold(s, id) {
			return true
		}
	}
	return false
}

// readLog reads the entries newer than the cursor, following nextLink, and
// hands them to the sink oldest first. A missing or broken page ends the
// read with what was gathered; the rest is read at the next poll.
func (p *poll) readLog(ctx context.Context, path, svc, scope, owner string) {
	key := norm(path)
	p.mu.Lock()
	cur := p.st.logs[key]
	if cur == nil {
		cur = &logCursor{atLast: map[string]bool{}, noTime: map[string]bool{}}
		p.st.logs[key] = cur
	}
	p.mu.Unlock()

	var entries []*logEntry
	next := path
	visited := map[string]bool{}
	for page := 0; next != "" && page < p.c.cfg.LogServices.MaxPages; page++ {
		if visited[next] {
			break
		}
		visited[next] = true
		var coll collection
		if err := p.get(ctx, next, &coll); err != nil {
			p.partial(next, err)
			if page == 0 {
				return
			}
			break
		}
		pageEntries := p.decodeEntries(ctx, coll.Members, cur)
		entries = append(entries, pageEntries...)
		// A newest-first log whose page reaches what was already read
		// needs no further page.
		if cur.primed && len(pageEntries) > 1 && newestFirst(pageEntries) && !cur.isNew(pageEntries[len(pageEntries)-1]) {
			break
		}
		next = coll.next()
	}
	p.deliver(ctx, cur, entries, path, svc, scope, owner)
}

// decodeEntries decodes a page's members, reading the ones that are bare
// links and not yet seen.
func (p *poll) decodeEntries(ctx context.Context, raws []json.RawMessage, cur *logCursor) []*logEntry {
	out := make([]*logEntry, 0, len(raws))
	for _, raw := range raws {
		e := new(logEntry)
		if err := json.Unmarshal(raw, e); err != nil {
			p.partial("log entry", err)
			continue
		}
		if e.linkOnly() {
			if e.ODataID == "" || cur.noTime[norm(e.ODataID)] {
				continue
			}
			if err := p.get(ctx, e.ODataID, e); err != nil {
				p.partial(e.ODataID, err)
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

func newestFirst(es []*logEntry) bool {
	a, b := entryTime(es[0]), entryTime(es[len(es)-1])
	return !a.IsZero() && !b.IsZero() && a.After(b)
}

// entryTime parses Created (or EventTimestamp); zero when neither parses.
func entryTime(e *logEntry) time.Time {
	for _, s := range []flexString{e.Created, e.EventTimestamp} {
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-0700", "2006-01-02T15:04:05"} {
			if t, err := time.Parse(layout, string(s)); err == nil && t.Year() > 1971 {
				return t
			}
		}
	}
	return time.Time{}
}

func entryKey(e *logEntry) string {
	if e.ODataID != "" {
		return norm(e.ODataID)
	}
	return string(e.ID) + "\x00" + string(e.Created) + "\x00" + string(e.Message)
}

func (cur *logCursor) isNew(e *logEntry) bool {
	t := entryTime(e)
	if t.IsZero() {
		return !cur.noTime[entryKey(e)]
	}
	return t.After(cur.last) || t.Equal(cur.last) && !cur.atLast[entryKey(e)]
}

func (cur *logCursor) mark(e *logEntry) {
	t := entryTime(e)
	k := entryKey(e)
	switch {
	case t.IsZero():
		if len(cur.noTime) >= maxNoTime {
			cur.noTime = map[string]bool{}
		}
		cur.noTime[k] = true
	case t.After(cur.last):
		cur.last = t
		cur.atLast = map[string]bool{k: true}
	case t.Equal(cur.last):
		cur.atLast[k] = true
	}
}

// deliver hands the new entries to the sink, oldest first, and moves the
// cursor past each one accepted. On the first read after start, entries
// older than log_services.history are only marked as seen.
func (p *poll) deliver(ctx context.Context, cur *logCursor, entries []*logEntry, path, svc, scope, owner string) {
	var fresh []*logEntry
	dup := map[string]bool{}
	for _, e := range entries {
		k := entryKey(e)
		if cur.isNew(e) && !dup[k] {
			dup[k] = true
			fresh = append(fresh, e)
		}
	}
	sort.SliceStable(fresh, func(i, j int) bool {
		ti, tj := entryTime(fresh[i]), entryTime(fresh[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return idLess(string(fresh[i].ID), string(fresh[j].ID))
	})
	now := p.c.now()
	history := time.Duration(p.c.cfg.LogServices.History)
	for _, e := range fresh {
		t := entryTime(e)
		if !cur.primed && history > 0 && (t.IsZero() || now.Sub(t) > history) {
			cur.mark(e)
			continue
		}
		ev := p.event(e, t, path, svc, scope, owner)
		if err := p.c.sink.HandleEvent(ctx, ev); err != nil {
			p.c.metrics.eventsLost.Inc()
			p.c.logger.Warn("event sink refused a BMC log entry; it is offered again next poll", "bmc", p.t.Address, "log", path, "err", err)
			break
		}
		p.c.metrics.logEvents.WithLabelValues(string(ev.Severity)).Inc()
		cur.mark(e)
	}
	cur.primed = true
}

// idLess orders ids numerically when both are numbers.
func idLess(a, b string) bool {
	x, e1 := strconv.Atoi(a)
	y, e2 := strconv.Atoi(b)
	if e1 == nil && e2 == nil {
		return x < y
	}
	return a < b
}

// event turns a log entry into an Event with the target's labels.
func (p *poll) event(e *logEntry, t time.Time, path, svc, scope, owner string) events.Event {
	if t.IsZero() {
		t = p.c.now()
	}
	sev := events.Info
	switch strings.ToLower(string(e.Severity)) {
	case "critical":
		sev = events.Critical
	case "warning":
		sev = events.Warning
	}
	kind := string(e.MessageID)
	for _, k := range []flexString{e.OemRecordFormat, e.EntryType} {
		if kind == "" {
			kind = string(k)
		}
	}
	if kind == "" {
		kind = "LogEntry"
	}
	summary := strings.TrimSpace(string(e.Message))
	if summary == "" {
		summary = strings.TrimSpace(string(e.SensorType) + " " + string(e.EntryCode))
	}
	if summary == "" {
		summary = string(e.Name)
	}
	lbls := make(map[string]string, p.t.Labels.Len()+1)
	p.t.Labels.Range(func(l labels.Label) { lbls[l.Name] = l.Value })
	attrs := map[string]string{
		"log_service": svc,
		"log":         path,
		scope:         owner,
		"entry_id":    string(e.ID),
		"entry_type":  string(e.EntryType),
		"message_id":  string(e.MessageID),
		"sensor_type": string(e.SensorType),
		"entry_code":  string(e.EntryCode),
		"severity":    string(e.Severity),
		"created":     string(e.Created),
		"origin":      e.Links.OriginOfCondition.ID,
	}
	if len(e.MessageArgs) > 0 {
		args := make([]string, len(e.MessageArgs))
		for i, a := range e.MessageArgs {
			args[i] = string(a)
		}
		attrs["message_args"] = strings.Join(args, ", ")
	}
	for k, v := range attrs {
		if v == "" {
			delete(attrs, k)
		}
	}
	return events.Event{Time: t, Source: events.SourceRedfishLog, Kind: kind, Severity: sev, Summary: summary, Labels: lbls, Attributes: attrs}
}

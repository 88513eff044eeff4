package bmc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// get answers a GET from the mockup, with this BMC's serials, readings,
// faults and patches.
func (b *BMC) get(w http.ResponseWriter, r *http.Request, key string) {
	res, ok := b.m.files[key]
	if q := r.URL.Query(); q.Has("$skiptoken") || q.Has("$skip") {
		// Later pages of a collection are not part of the mockups.
		ok = false
	}
	var body []byte
	switch {
	case ok:
		expand := !b.opts.NoExpand && strings.Contains(r.URL.RawQuery, "$expand") || strings.Contains(r.URL.RawQuery, "%24expand")
		if b.opts.NoExpand {
			expand = false
		}
		body = b.renderResource(res, expand)
	default:
		body = b.synthetic(key)
		if body == nil {
			writeError(w, 404, "Base.1.8.ResourceMissingAtURI", fmt.Sprintf("The resource at the URI %s was not found.", r.URL.Path))
			return
		}
	}
	if _, bad := b.fault(Truncated); bad {
		body = body[:len(body)/2]
	}
	if _, bad := b.fault(Malformed); bad {
		body = []byte(`{"@odata.id": "` + r.URL.Path + `", "Name": Oops, }`)
	}
	if r.Method == http.MethodHead {
		body = nil
	}
	writeJSON(w, 200, body)
}

// renderResource renders one resource, inlining the members of a
// collection when expand is set.
func (b *BMC) renderResource(res *resource, expand bool) []byte {
	t := b.opts.Now().Sub(b.start).Seconds() + float64(b.opts.Index%97)*3.1
	seed := uint64(b.opts.Index + 1)
	if !expand || len(res.members) == 0 {
		return b.finish(res.path, res.render(make([]byte, 0, len(res.raw)+64), 0, len(res.raw), b.sfx, t, b.opts.Drift, seed))
	}
	out := make([]byte, 0, len(res.raw)*4)
	out = res.render(out, 0, res.membersSpan[0], b.sfx, t, b.opts.Drift, seed)
	out = append(out, '[')
	for i, id := range res.members {
		if i > 0 {
			out = append(out, ',')
		}
		if m, ok := b.m.files[Key(id)]; ok {
			out = append(out, b.finish(m.path, m.render(make([]byte, 0, len(m.raw)+64), 0, len(m.raw), b.sfx, t, b.opts.Drift, seed))...)
		} else {
			sp := res.memberSpans[i]
			out = res.render(out, sp[0], sp[1], b.sfx, t, b.opts.Drift, seed)
		}
	}
	out = append(out, ']')
	out = res.render(out, res.membersSpan[1], len(res.raw), b.sfx, t, b.opts.Drift, seed)
	return b.finishCollection(res.path, out)
}

// mutating reports whether the BMC has state that changes documents.
func (b *BMC) mutating() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, f1 := b.faults[FanStop]
	_, f2 := b.faults[PSUFail]
	_, f3 := b.faults[DIMMErrors]
	return f1 || f2 || f3 || len(b.patches) > 0
}

// finish applies faults and patches to a rendered resource. Without any it
// returns body untouched, which is the fast path.
func (b *BMC) finish(path string, body []byte) []byte {
	if !b.mutating() {
		return body
	}
	var doc map[string]any
	if json.Unmarshal(body, &doc) != nil {
		return body
	}
	if !b.mutate(Key(path), doc) {
		return body
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return body
	}
	return out
}

// finishCollection applies the DIMM fault's log entry to an entries
// collection.
func (b *BMC) finishCollection(path string, body []byte) []byte {
	return b.finish(path, body)
}

// mutate changes doc, the resource at key, for the active faults and
// patches; it reports whether anything changed.
func (b *BMC) mutate(key string, doc map[string]any) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	changed := false
	if p, ok := b.patches[key]; ok {
		deepMerge(doc, p)
		changed = true
	}
	if _, ok := b.faults[FanStop]; ok {
		if fans, ok := doc["Fans"].([]any); ok && len(fans) > 0 && strings.HasSuffix(key, "/thermal") {
			if f, ok := fans[0].(map[string]any); ok {
				f["Reading"] = 0
				setHealth(f, "Critical")
				changed = true
			}
		}
		if b.m.firstFan[key] {
			if sp, ok := doc["SpeedPercent"].(map[string]any); ok {
				sp["Reading"] = 0
				if _, ok := sp["SpeedRPM"]; ok {
					sp["SpeedRPM"] = 0
				}
			}
			setHealth(doc, "Critical")
			changed = true
		}
	}
	if _, ok := b.faults[PSUFail]; ok {
		if psus, ok := doc["PowerSupplies"].([]any); ok && len(psus) > 0 && strings.HasSuffix(key, "/power") {
			if p, ok := psus[0].(map[string]any); ok {
				for _, k := range []string{"PowerInputWatts", "PowerOutputWatts", "LastPowerOutputWatts"} {
					if _, ok := p[k]; ok {
						p[k] = 0
					}
				}
				setHealth(p, "Critical")
				changed = true
			}
		}
		if b.m.firstPSU[key] {
			setHealth(doc, "Critical")
			changed = true
		}
		if b.m.firstPSU[strings.TrimSuffix(key, "/metrics")] && strings.HasSuffix(key, "/metrics") {
			for _, k := range []string{"InputPowerWatts", "OutputPowerWatts"} {
				if m, ok := doc[k].(map[string]any); ok {
					m["Reading"] = 0
				}
			}
			changed = true
		}
	}
	if since, ok := b.faults[DIMMErrors]; ok {
		if b.m.firstDIMM[key] {
			setHealth(doc, "Critical")
			if _, ok := doc["Metrics"]; !ok {
				doc["Metrics"] = map[string]any{"@odata.id": key + "/memorymetrics"}
			}
			changed = true
		}
		if key == b.m.logEntries {
			members, _ := doc["Members"].([]any)
			entry := map[string]any{
				"@odata.id": key + "/sim-dimm", "@odata.type": "#LogEntry.v1_15_0.LogEntry", "Id": "sim-dimm",
				"Name": "Log Entry sim-dimm", "EntryType": "SEL", "Severity": "Critical",
				"Created":    since.UTC().Format(time.RFC3339),
				"MessageId":  "Memory.1.0.UncorrectableError",
				"Message":    "Uncorrectable ECC error detected on DIMM " + b.firstDIMMName(),
				"SensorType": "Memory", "EntryCode": "Assert",
			}
			doc["Members"] = append([]any{entry}, members...)
			if n, ok := doc["Members@odata.count"].(float64); ok {
				doc["Members@odata.count"] = n + 1
			}
			changed = true
		}
	}
	return changed
}

func (b *BMC) firstDIMMName() string {
	for k := range b.m.firstDIMM {
		return k[strings.LastIndexByte(k, '/')+1:]
	}
	return "unknown"
}

func setHealth(doc map[string]any, h string) {
	st, ok := doc["Status"].(map[string]any)
	if !ok {
		st = map[string]any{"State": "Enabled"}
		doc["Status"] = st
	}
	st["Health"] = h
}

// synthetic serves resources a fault adds: the MemoryMetrics of a DIMM
// counting uncorrectable errors.
func (b *BMC) synthetic(key string) []byte {
	since, ok := b.fault(DIMMErrors)
	if !ok || !strings.HasSuffix(key, "/memorymetrics") || !b.m.firstDIMM[strings.TrimSuffix(key, "/memorymetrics")] {
		return nil
	}
	n := 1 + int(b.opts.Now().Sub(since)/(10*time.Second))
	body, _ := json.Marshal(map[string]any{
		"@odata.id": key, "@odata.type": "#MemoryMetrics.v1_7_0.MemoryMetrics", "Id": "MemoryMetrics", "Name": "Memory Metrics",
		"LifeTime":      map[string]any{"UncorrectableECCErrorCount": n, "CorrectableECCErrorCount": 3 * n},
		"CurrentPeriod": map[string]any{"UncorrectableECCErrorCount": n, "CorrectableECCErrorCount": 3 * n},
		"HealthData":    map[string]any{"AlarmTrips": map[string]any{"UncorrectableECCError": true}},
	})
	return body
}

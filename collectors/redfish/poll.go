package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
)

// poll is one collection of one BMC.
type poll struct {
	c      *Collector
	st     *bmcState
	cl     *client.Client
	t      collectors.Target
	expand string // query that expands a collection's members, or ""
	logs   bool   // this poll reads the log services

	req0      int64
	budget    int64
	budgetHit atomic.Bool
	errs      atomic.Int64

	mu      sync.Mutex
	samples []sample
	seen    map[uint64]struct{}
	used    map[string]bool
}

type sample struct {
	ls labels.Labels
	v  float64
}

func newPoll(c *Collector, st *bmcState, t collectors.Target) *poll {
	now := c.now()
	logs := c.cfg.LogServices.Enabled && !c.cfg.skips("logs") && now.Sub(st.logsAt) >= time.Duration(c.cfg.LogServices.Interval)
	if logs {
		st.logsAt = now
	}
	return &poll{
		c: c, st: st, cl: st.cl, t: t, logs: logs,
		req0: st.cl.Requests(), budget: int64(c.cfg.RequestBudget),
		seen: map[uint64]struct{}{}, used: map[string]bool{},
	}
}

// add records a sample of family name with label pairs kv; labels with an
// empty value are left out, and a series already added keeps its first value.
func (p *poll) add(name string, v float64, kv ...string) {
	b := make([]labels.Label, 0, len(kv)/2+1)
	b = append(b, labels.Label{Name: labels.MetricName, Value: name})
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			b = append(b, labels.Label{Name: kv[i], Value: kv[i+1]})
		}
	}
	ls := labels.New(b...)
	h := ls.Hash()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, dup := p.seen[h]; dup {
		return
	}
	p.seen[h] = struct{}{}
	p.used[name] = true
	p.samples = append(p.samples, sample{ls, v})
}

// addNum adds n when the BMC reported it.
func (p *poll) addNum(name string, n num, kv ...string) {
	if n.ok {
		p.add(name, n.v, kv...)
	}
}

// addHealth adds a health sample when the BMC reported a known health.
func (p *poll) addHealth(name string, h flexString, kv ...string) {
	if v, ok := healthValue(h); ok {
		p.add(name, v, kv...)
	}
}

// partial records a resource that could not be read.
func (p *poll) partial(what string, err error) {
	if errors.Is(err, client.ErrBudget) {
		p.budgetHit.Store(true)
		return
	}
	p.errs.Add(1)
	p.c.metrics.partial.Inc()
	p.c.logger.Debug("redfish resource not read", "bmc", p.t.Address, "resource", what, "err", err)
}

// get reads path into v within the request budget.
func (p *poll) get(ctx context.Context, path string, v any) error {
	if p.cl.Requests()-p.req0 >= p.budget {
		return client.ErrBudget
	}
	return p.cl.GetJSON(ctx, path, v)
}

// flush hands the samples to app, with the poll's own samples.
func (p *poll) flush(app collectors.Appender) error {
	p.add("redfish_poll_requests", float64(p.cl.Requests()-p.req0))
	p.add("redfish_poll_resource_errors", float64(p.errs.Load()))
	p.add("redfish_poll_budget_exhausted", b2f(p.budgetHit.Load()))
	p.add("redfish_poll_expand", b2f(p.expand != ""))
	if p.budgetHit.Load() {
		p.c.metrics.budget.Inc()
	}
	for name := range p.used {
		if f, ok := p.c.fams[name]; ok {
			app.SetMetadata(name, f.metadata())
		}
	}
	for _, s := range p.samples {
		if err := app.Append(s.ls, 0, s.v); err != nil {
			return fmt.Errorf("BMC %q: append %s: %w", p.t.Address, s.ls.Get(labels.MetricName), err)
		}
	}
	return nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// withQuery adds q to path.
func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

// norm is the key under which a path is deduplicated: no query, fragment
// or trailing slash, lower case.
func norm(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return strings.ToLower(strings.TrimRight(p, "/"))
}

// memberID names a member for labels: its path below the collection (which
// keeps ids that contain slashes, such as Intel's RackMount/Baseboard), or
// its Id, or the last path element.
func memberID(collPath string, c *common) string {
	id := strings.TrimRight(strings.SplitN(c.ODataID, "#", 2)[0], "/")
	coll := strings.TrimRight(strings.SplitN(collPath, "?", 2)[0], "/")
	if len(id) > len(coll)+1 && strings.EqualFold(id[:len(coll)], coll) && id[len(coll)] == '/' {
		return id[len(coll)+1:]
	}
	if c.ID != "" {
		return string(c.ID)
	}
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		return id[i+1:]
	}
	return string(c.Name)
}

// members reads the collection at path (following nextLink up to maxPages,
// expanding when the service can) and returns its members, reading the
// ones that came back as bare links. A member that fails is skipped and
// counted; only the collection's own failure is returned.
func members[T any, PT interface {
	*T
	resourceT
}](ctx context.Context, p *poll, path string, maxPages int) ([]PT, error) {
	var raws []json.RawMessage
	next := withQuery(path, p.expand)
	visited := map[string]bool{}
	for page := 0; next != "" && page < maxPages; page++ {
		if visited[next] {
			break
		}
		visited[next] = true
		var coll collection
		if err := p.get(ctx, next, &coll); err != nil {
			if page == 0 {
				return nil, err
			}
			p.partial(next, err)
			break
		}
		raws = append(raws, coll.Members...)
		next = coll.next()
	}
	out := make([]PT, len(raws))
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for i, raw := range raws {
		v := PT(new(T))
		if err := json.Unmarshal(raw, v); err != nil {
			p.partial(path, fmt.Errorf("member %d: %w", i, err))
			continue
		}
		b := v.base()
		if b.ODataID != "" {
			k := norm(b.ODataID)
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		if !b.linkOnly() {
			out[i] = v
			continue
		}
		if b.ODataID == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.get(ctx, b.ODataID, v); err != nil {
				p.partial(b.ODataID, err)
				return
			}
			if v.base().ODataID == "" {
				v.base().ODataID = b.ODataID
			}
			out[i] = v
		}()
	}
	wg.Wait()
	res := out[:0]
	for _, v := range out {
		if v != nil {
			res = append(res, v)
		}
	}
	return res, nil
}

// fetch reads one resource.
func fetch[T any](ctx context.Context, p *poll, path string) (*T, error) {
	v := new(T)
	if err := p.get(ctx, path, v); err != nil {
		return nil, err
	}
	return v, nil
}

// group runs functions concurrently and waits for them.
type group struct{ wg sync.WaitGroup }

func (g *group) Go(f func()) {
	g.wg.Add(1)
	go func() { defer g.wg.Done(); f() }()
}

func (g *group) Wait() { g.wg.Wait() }

// uniqueNames returns label values for names, adding the member id (or
// the position) to names that repeat.
func uniqueNames(names, ids []string) []string {
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	out := make([]string, len(names))
	for i, n := range names {
		switch {
		case n == "" && ids[i] != "":
			out[i] = ids[i]
		case count[n] > 1 && ids[i] != "":
			out[i] = n + " " + ids[i]
		case count[n] > 1 || n == "":
			out[i] = fmt.Sprintf("%s %d", n, i)
		default:
			out[i] = n
		}
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

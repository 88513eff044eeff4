package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// ---- silences ----

type silenceRow struct {
	store.Silence
	Matchers string
	State    string // active, pending, expired
}

type silencesData struct {
	Active, Pending, Expired []silenceRow
	Prefill                  string
	PrefillComment           string
	Done                     string
	Err                      string
}

func (silencesData) title() string { return "Silences" }

// maxExpiredShown bounds the expired silences listed (newest first).
const maxExpiredShown = 50

func fmtMatchers(ms []store.Matcher) string {
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		op := "="
		switch {
		case m.IsRegex && m.IsEqual:
			op = "=~"
		case m.IsRegex:
			op = "!~"
		case !m.IsEqual:
			op = "!="
		}
		parts = append(parts, m.Name+op+strconv.Quote(m.Value))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (u *UI) silencesPage(w http.ResponseWriter, r *http.Request, p principal) {
	now := u.now()
	q := r.URL.Query()
	d := silencesData{Prefill: q.Get("matchers"), PrefillComment: q.Get("comment"), Done: doneMessages[q.Get("done")]}
	ss, err := u.o.Store.ListSilences(r.Context())
	if err != nil {
		u.log.Error("listing silences", "err", err)
		d.Err = "Reading silences failed: " + err.Error()
	}
	for _, s := range ss {
		row := silenceRow{Silence: s, Matchers: fmtMatchers(s.Matchers)}
		switch {
		case !s.EndsAt.After(now):
			row.State = "expired"
			d.Expired = append(d.Expired, row)
		case s.StartsAt.After(now):
			row.State = "pending"
			d.Pending = append(d.Pending, row)
		default:
			row.State = "active"
			d.Active = append(d.Active, row)
		}
	}
	sort.Slice(d.Active, func(i, j int) bool { return d.Active[i].EndsAt.Before(d.Active[j].EndsAt) })
	sort.Slice(d.Pending, func(i, j int) bool { return d.Pending[i].StartsAt.Before(d.Pending[j].StartsAt) })
	sort.Slice(d.Expired, func(i, j int) bool { return d.Expired[i].EndsAt.After(d.Expired[j].EndsAt) })
	if len(d.Expired) > maxExpiredShown {
		d.Expired = d.Expired[:maxExpiredShown]
	}
	u.render(w, r, http.StatusOK, "silences", p, d)
}

// ---- fleet overview ----

// Health classes of a server or switch, worst first.
const (
	healthDown    = "down"
	healthCrit    = "crit"
	healthWarn    = "warn"
	healthUnknown = "unknown"
	healthOK      = "ok"
	healthMaint   = "maint"
	healthDecom   = "decom"
)

type device struct {
	Name      string
	Kind      string // server, switch
	Health    string
	Lifecycle string
	Alerts    []string
	Incident  string
}

type rack struct {
	Name    string
	Devices []device
	Worst   string
	Bad     int
	// HTML is the rack's device squares, built in Go: a fleet of 100,000
	// servers is 100,000 squares, too many for the template's reflection.
	HTML template.HTML
}

// squares renders the devices of a rack; every text is escaped.
func (rk *rack) squares() {
	var b strings.Builder
	for _, d := range rk.Devices {
		title := d.Name + " (" + d.Kind + ") " + d.Health
		if d.Lifecycle != "" {
			title += " · " + d.Lifecycle
		}
		for _, a := range d.Alerts {
			title += " · " + a
		}
		class := "dev " + d.Health + " " + d.Kind
		if d.Incident != "" {
			b.WriteString(`<a class="` + template.HTMLEscapeString(class) + `" href="/incidents/` + template.HTMLEscapeString(url.PathEscape(d.Incident)) + `" title="` + template.HTMLEscapeString(title) + `"></a>`)
		} else {
			b.WriteString(`<span class="` + template.HTMLEscapeString(class) + `" title="` + template.HTMLEscapeString(title) + `"></span>`)
		}
	}
	rk.HTML = template.HTML(b.String()) //nolint:gosec // every text above is escaped
}

type site struct {
	Name   string
	Racks  []*rack
	Counts map[string]int
	Total  int
}

type fleetData struct {
	Sites     []*site
	SiteNames []string
	Site      string
	Health    []string
	Notes     []string
	NoInv     bool
}

func (fleetData) title() string { return "Fleet" }

var healthRank = map[string]int{healthDown: 0, healthCrit: 1, healthWarn: 2, healthUnknown: 3, healthMaint: 4, healthOK: 5, healthDecom: 6}

// deviceName is the server or switch a series or alert is about: the
// inventory sets instance (and server or switch) to the hostname.
func deviceName(ls map[string]string) string {
	for _, k := range []string{"server", "switch", "instance"} {
		if v := ls[k]; v != "" {
			return v
		}
	}
	return ""
}

// fleetHealth reads up and the active alerts into per-device facts.
func (u *UI) fleetHealth(ctx context.Context, now time.Time) (up map[string]bool, alerts map[string][]store.Alert, notes []string) {
	up = map[string]bool{}
	if u.o.Querier != nil {
		series, err := u.o.Querier.Query(ctx, "up", now)
		if err != nil {
			notes = append(notes, "up: "+err.Error())
		}
		for _, s := range series {
			n := deviceName(s.Labels)
			if n == "" || len(s.Points) == 0 {
				continue
			}
			ok := s.Points[0].V == 1
			if prev, seen := up[n]; seen {
				ok = ok && prev
			}
			up[n] = ok
		}
	} else {
		notes = append(notes, "no PromQL engine wired: target health (up) unknown")
	}
	alerts = map[string][]store.Alert{}
	as, err := u.o.Store.ListAlerts(ctx, store.AlertFilter{Active: now})
	if err != nil {
		notes = append(notes, "alerts: "+err.Error())
	}
	for _, a := range as {
		if a.Suppressed != "" {
			continue
		}
		if n := deviceName(a.Labels); n != "" {
			alerts[n] = append(alerts[n], a)
		}
	}
	return up, alerts, notes
}

func classify(lifecycle inventory.Lifecycle, isServer bool, upOK, upSeen bool, alerts []store.Alert) string {
	if isServer {
		switch lifecycle {
		case inventory.Decommissioned:
			return healthDecom
		case inventory.Maintenance, inventory.Repair, inventory.Provisioning:
			return healthMaint
		}
	}
	if upSeen && !upOK {
		return healthDown
	}
	worst := ""
	for _, a := range alerts {
		switch a.Labels["severity"] {
		case "critical", "error":
			worst = healthCrit
		default:
			if worst == "" {
				worst = healthWarn
			}
		}
	}
	if worst != "" {
		return worst
	}
	if !upSeen {
		return healthUnknown
	}
	return healthOK
}

func (u *UI) fleetPage(w http.ResponseWriter, r *http.Request, p principal) {
	d := fleetData{Site: r.URL.Query().Get("site"), Health: []string{healthDown, healthCrit, healthWarn, healthUnknown, healthMaint, healthOK, healthDecom}}
	var inv *inventory.Inventory
	if u.o.Inventory != nil {
		inv = u.o.Inventory()
	}
	if inv == nil {
		d.NoInv = true
		u.render(w, r, http.StatusOK, "fleet", p, d)
		return
	}
	now := u.now()
	up, alerts, notes := u.fleetHealth(r.Context(), now)
	d.Notes = notes
	sites := map[string]*site{}
	racks := map[[2]string]*rack{}
	add := func(loc inventory.Location, dev device) {
		sn := loc.Site
		if sn == "" {
			sn = "(no site)"
		}
		if !slices.Contains(d.SiteNames, sn) {
			d.SiteNames = append(d.SiteNames, sn)
		}
		if d.Site != "" && d.Site != sn {
			return
		}
		s := sites[sn]
		if s == nil {
			s = &site{Name: sn, Counts: map[string]int{}}
			sites[sn] = s
			d.Sites = append(d.Sites, s)
		}
		rn := loc.Rack
		if rn == "" {
			rn = "(no rack)"
		}
		rk := racks[[2]string{sn, rn}]
		if rk == nil {
			rk = &rack{Name: rn, Worst: healthDecom}
			racks[[2]string{sn, rn}] = rk
			s.Racks = append(s.Racks, rk)
		}
		rk.Devices = append(rk.Devices, dev)
		if healthRank[dev.Health] < healthRank[rk.Worst] {
			rk.Worst = dev.Health
		}
		if healthRank[dev.Health] <= healthRank[healthWarn] {
			rk.Bad++
		}
		s.Counts[dev.Health]++
		s.Total++
	}
	describe := func(name, kind string, lc inventory.Lifecycle, isServer bool) device {
		upOK, upSeen := up[name]
		as := alerts[name]
		dev := device{Name: name, Kind: kind, Lifecycle: string(lc), Health: classify(lc, isServer, upOK, upSeen, as)}
		for _, a := range as {
			dev.Alerts = append(dev.Alerts, a.Labels["alertname"])
			if dev.Incident == "" {
				dev.Incident = a.IncidentID
			}
		}
		return dev
	}
	for _, s := range inv.Servers {
		add(s.Location, describe(s.Hostname, "server", s.Lifecycle, true))
	}
	for _, sw := range inv.Switches {
		add(sw.Location, describe(sw.Hostname, "switch", "", false))
	}
	sort.Strings(d.SiteNames)
	sort.Slice(d.Sites, func(i, j int) bool { return d.Sites[i].Name < d.Sites[j].Name })
	for _, s := range d.Sites {
		sort.Slice(s.Racks, func(i, j int) bool { return s.Racks[i].Name < s.Racks[j].Name })
		for _, rk := range s.Racks {
			rk.squares()
		}
	}
	u.render(w, r, http.StatusOK, "fleet", p, d)
}

func sitesAndRacks(inv *inventory.Inventory) (sites, racks []string) {
	seenS, seenR := map[string]bool{}, map[string]bool{}
	addLoc := func(l inventory.Location) {
		if l.Site != "" && !seenS[l.Site] {
			seenS[l.Site] = true
			sites = append(sites, l.Site)
		}
		if l.Rack != "" && !seenR[l.Rack] {
			seenR[l.Rack] = true
			racks = append(racks, l.Rack)
		}
	}
	for _, s := range inv.Servers {
		addLoc(s.Location)
	}
	for _, s := range inv.Switches {
		addLoc(s.Location)
	}
	sort.Strings(sites)
	sort.Strings(racks)
	return sites, racks
}

// ---- targets ----

type jobSummary struct {
	Job       string
	Up, Total int
}

type targetsData struct {
	Targets []TargetStatus
	Jobs    []jobSummary
	Job     string
	Health  string
	None    bool
}

func (targetsData) title() string { return "Targets" }

func (u *UI) targetsPage(w http.ResponseWriter, r *http.Request, p principal) {
	q := r.URL.Query()
	d := targetsData{Job: q.Get("job"), Health: q.Get("health")}
	if d.Health != "" && d.Health != "up" && d.Health != "down" && d.Health != "unknown" {
		u.errorPage(w, r, p, http.StatusBadRequest, fmt.Sprintf("parameter health: %q is not one of up, down, unknown", d.Health))
		return
	}
	if u.o.Targets == nil {
		d.None = true
		u.render(w, r, http.StatusOK, "targets", p, d)
		return
	}
	all := u.o.Targets.Targets()
	sums := map[string]*jobSummary{}
	var order []string
	for _, t := range all {
		s := sums[t.Job]
		if s == nil {
			s = &jobSummary{Job: t.Job}
			sums[t.Job] = s
			order = append(order, t.Job)
		}
		s.Total++
		if t.Health == "up" {
			s.Up++
		}
		if (d.Job == "" || d.Job == t.Job) && (d.Health == "" || d.Health == t.Health) {
			d.Targets = append(d.Targets, t)
		}
	}
	sort.Strings(order)
	for _, j := range order {
		d.Jobs = append(d.Jobs, *sums[j])
	}
	sort.SliceStable(d.Targets, func(i, j int) bool {
		a, b := d.Targets[i], d.Targets[j]
		if a.Job != b.Job {
			return a.Job < b.Job
		}
		return a.Address < b.Address
	})
	u.render(w, r, http.StatusOK, "targets", p, d)
}

package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Severities in the order the UI lists them.
var severityOrder = []string{"critical", "error", "warning", "info"}

const (
	defaultListLimit = 200
	maxListLimit     = 2000
)

// listFilter is the incidents list's query string: every filter is in the
// URL, so a filtered list is a link that can be shared.
type listFilter struct {
	States   []store.IncidentState // empty with All false: open incidents
	All      bool
	Severity string
	Site     string
	Rack     string
	Route    string
	Receiver string
	Text     string
	Since    time.Duration
	Limit    int
}

// parseListFilter reads the list's filters; errors name the parameter.
func parseListFilter(q url.Values) (listFilter, error) {
	f := listFilter{Limit: defaultListLimit}
	for _, s := range q["state"] {
		for part := range strings.SplitSeq(s, ",") {
			switch st := store.IncidentState(strings.TrimSpace(part)); st {
			case "":
			case "all":
				f.All = true
			case "open":
				f.States = append(f.States, store.Triggered, store.Acknowledged)
			case store.Triggered, store.Acknowledged, store.Resolved:
				if !slices.Contains(f.States, st) {
					f.States = append(f.States, st)
				}
			default:
				return f, fmt.Errorf("parameter state: %q is not one of open, triggered, acknowledged, resolved, all", part)
			}
		}
	}
	f.Severity = strings.TrimSpace(q.Get("severity"))
	if f.Severity != "" && !slices.Contains(severityOrder, f.Severity) {
		return f, fmt.Errorf("parameter severity: %q is not one of %s", f.Severity, strings.Join(severityOrder, ", "))
	}
	f.Site = strings.TrimSpace(q.Get("site"))
	f.Rack = strings.TrimSpace(q.Get("rack"))
	f.Route = strings.TrimSpace(q.Get("route"))
	f.Receiver = strings.TrimSpace(q.Get("receiver"))
	f.Text = strings.TrimSpace(q.Get("q"))
	if s := strings.TrimSpace(q.Get("since")); s != "" {
		d, err := model.ParseDuration(s)
		if err != nil || d <= 0 {
			return f, fmt.Errorf("parameter since: %q is not a duration such as 30m, 24h or 7d", s)
		}
		f.Since = time.Duration(d)
	}
	if s := strings.TrimSpace(q.Get("limit")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > maxListLimit {
			return f, fmt.Errorf("parameter limit: %q is not a number between 1 and %d", s, maxListLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// storeFilter is the part of f the store applies itself.
func (f listFilter) storeFilter(now time.Time) store.IncidentFilter {
	sf := store.IncidentFilter{Receiver: f.Receiver, Limit: f.Limit}
	switch {
	case f.All:
	case len(f.States) == 0:
		sf.States = []store.IncidentState{store.Triggered, store.Acknowledged}
	default:
		sf.States = f.States
	}
	if f.Site != "" || f.Rack != "" {
		sf.Labels = map[string]string{}
		if f.Site != "" {
			sf.Labels["site"] = f.Site
		}
		if f.Rack != "" {
			sf.Labels["rack"] = f.Rack
		}
	}
	if f.Since > 0 {
		sf.Since = now.Add(-f.Since)
	}
	// Severity, route and text are applied after reading: ask for more so
	// the page still fills up to its limit.
	if f.Severity != "" || f.Route != "" || f.Text != "" {
		sf.Limit = 0
	}
	return sf
}

// keep applies the filters the store does not know.
func (f listFilter) keep(inc store.Incident) bool {
	if f.Severity != "" && inc.Severity != f.Severity {
		return false
	}
	if f.Route != "" && inc.Route != f.Route && !strings.HasPrefix(inc.Route, f.Route+"/") {
		return false
	}
	if f.Text != "" && !strings.Contains(strings.ToLower(inc.Title+" "+inc.Cause+" "+inc.ID), strings.ToLower(f.Text)) {
		return false
	}
	return true
}

// stateValue is what the state selector shows as chosen.
func (f listFilter) stateValue() string {
	switch {
	case f.All:
		return "all"
	case len(f.States) == 0 || (len(f.States) == 2 && slices.Contains(f.States, store.Triggered) && slices.Contains(f.States, store.Acknowledged)):
		return "open"
	default:
		return string(f.States[0])
	}
}

type incidentRow struct {
	store.Incident
	Site, Rack string
}

type incidentsData struct {
	F          listFilter
	State      string
	Rows       []incidentRow
	Truncated  bool
	Sites      []string
	Racks      []string
	Severities []string
	Refresh    int
	Err        string
}

func (incidentsData) title() string { return "Incidents" }

func (u *UI) incidentsPage(w http.ResponseWriter, r *http.Request, p principal) {
	f, err := parseListFilter(r.URL.Query())
	if err != nil {
		u.errorPage(w, r, p, http.StatusBadRequest, err.Error())
		return
	}
	now := u.now()
	d := incidentsData{F: f, State: f.stateValue(), Severities: severityOrder, Refresh: int(u.o.RefreshInterval / time.Second)}
	incs, err := u.o.Store.ListIncidents(r.Context(), f.storeFilter(now))
	if err != nil {
		u.log.Error("listing incidents", "err", err)
		d.Err = "Reading incidents failed: " + err.Error()
	}
	for _, inc := range incs {
		if !f.keep(inc) {
			continue
		}
		if len(d.Rows) == f.Limit {
			d.Truncated = true
			break
		}
		d.Rows = append(d.Rows, incidentRow{Incident: inc, Site: inc.Labels["site"], Rack: inc.Labels["rack"]})
	}
	if u.o.Inventory != nil {
		if inv := u.o.Inventory(); inv != nil {
			d.Sites, d.Racks = sitesAndRacks(inv)
		}
	}
	u.render(w, r, http.StatusOK, "incidents", p, d)
}

func (u *UI) getIncident(w http.ResponseWriter, r *http.Request, p principal) (store.Incident, bool) {
	id := r.PathValue("id")
	inc, err := u.o.Store.GetIncident(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		u.errorPage(w, r, p, http.StatusNotFound, fmt.Sprintf("Incident %q does not exist (or was removed by retention). See the incidents list.", id))
		return inc, false
	}
	if err != nil {
		u.log.Error("reading incident", "incident", id, "err", err)
		u.errorPage(w, r, p, http.StatusInternalServerError, fmt.Sprintf("Reading incident %q failed: %v", id, err))
		return inc, false
	}
	return inc, true
}

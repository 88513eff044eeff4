package remediate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// Guard names, in the order they are checked; a refused run's Reason
// starts with the name of the guard that refused it.
const (
	GuardTarget            = "target"
	GuardSuppressed        = "suppressed"
	GuardInventory         = "inventory"
	GuardLifecycle         = "lifecycle"
	GuardBlastRadius       = "blast_radius"
	GuardCooldownPerServer = "cooldown_per_server"
	GuardMaxPerHour        = "max_per_hour"
	GuardMaxConcurrent     = "max_concurrent"
	GuardDryRun            = "dry_run"
	GuardRequireApproval   = "require_approval"
)

// GuardOrder lists the guards in the order they are checked.
var GuardOrder = []string{
	GuardTarget, GuardSuppressed, GuardInventory, GuardLifecycle, GuardBlastRadius,
	GuardCooldownPerServer, GuardMaxPerHour, GuardMaxConcurrent, GuardDryRun, GuardRequireApproval,
}

// decision decides one remediation for the new servers of one incident.
type decision struct {
	e        *Engine
	fleet    Fleet // the fleet as it was when the decision began
	tx       store.Tx
	r        *Remediation
	inc      store.Incident
	now      time.Time
	byTarget map[string][]store.Alert

	// affected servers (firing alerts matching the remediation, in this
	// incident and anywhere else in the store), and their count per rack
	// and per site.
	affected     map[string]bool
	rackAffected map[[2]string]int
	siteAffected map[string]int

	escalated []string
	escReason string
}

// needsFleetWide reports whether the remediation has a blast radius, which
// needs every active alert to count.
func (r *Remediation) needsFleetWide() bool {
	b := r.Guards.BlastRadius
	return b.MaxServers > 0 || b.MaxPercentOfRack > 0 || b.MaxPercentOfSite > 0
}

func (d *decision) countAffected(alerts, active []store.Alert) {
	if !d.r.needsFleetWide() {
		return
	}
	d.affected = map[string]bool{}
	d.rackAffected = map[[2]string]int{}
	d.siteAffected = map[string]int{}
	add := func(a *store.Alert) {
		if a.Resolved(d.now) || !d.r.Matches(a.Labels) {
			return
		}
		t := targetOf(a.Labels)
		if t == "" || d.affected[t] {
			return
		}
		d.affected[t] = true
		if d.fleet == nil {
			return
		}
		if s, ok := d.fleet.Server(t); ok {
			if s.Rack != "" {
				d.rackAffected[[2]string{s.Site, s.Rack}]++
			}
			if s.Site != "" {
				d.siteAffected[s.Site]++
			}
		}
	}
	for i := range alerts {
		add(&alerts[i])
	}
	for i := range active {
		add(&active[i])
	}
}

// allTripped reports whether blast_radius already refuses every target
// with the counts so far.
func (d *decision) allTripped(targets []string) bool {
	for _, t := range targets {
		var srv inventory.Server
		known := false
		if d.fleet != nil {
			srv, known = d.fleet.Server(t)
		}
		if d.blastRadius(srv, known) == "" {
			return false
		}
	}
	return true
}

// decide checks the guards for target t and records the run.
func (d *decision) decide(ctx context.Context, t string) (store.RemediationRun, error) {
	run := store.RemediationRun{
		IncidentID: d.inc.ID,
		Action:     d.r.Name,
		Target:     t,
		Actor:      Actor,
		CreatedAt:  d.now,
	}
	status, reason, err := d.check(ctx, t)
	if err != nil {
		return run, err
	}
	run.Status, run.Reason = status, reason
	kind := store.EventRemediationSkipped
	switch status {
	case StatusSkipped, StatusEscalated:
		run.FinishedAt = d.now
		if guardOf(reason) == GuardDryRun {
			run.DryRun = true
			run.Output = d.e.describe(d.r, t)
		}
		if status == StatusEscalated {
			d.escalated = append(d.escalated, t)
			if d.escReason == "" {
				d.escReason = reason
			}
		}
	case StatusAwaitingApproval, StatusProposed:
		kind = store.EventRemediationProposed
	}
	if err := d.e.record(ctx, d.tx, run, kind, Actor, nil); err != nil {
		return run, err
	}
	return run, nil
}

// check runs the guards in GuardOrder and returns the status of the run
// and, for a refusal, the reason (starting with the guard's name).
func (d *decision) check(ctx context.Context, t string) (status, reason string, err error) {
	r, g := d.r, d.r.Guards
	if t == "" {
		return StatusSkipped, GuardTarget + ": the alert has no server or instance label", nil
	}
	suppressed := ""
	for _, a := range d.byTarget[t] {
		if a.Suppressed == "" {
			suppressed = ""
			break
		}
		if suppressed == "" {
			suppressed = a.Suppressed
		}
	}
	if suppressed != "" {
		return StatusSkipped, GuardSuppressed + ": the server's alerts are suppressed (" + suppressed + ")", nil
	}
	kind := r.Action.Kind()
	var srv inventory.Server
	known := false
	if d.fleet != nil {
		srv, known = d.fleet.Server(t)
		if !known {
			return StatusSkipped, fmt.Sprintf("%s: server %q is not in the inventory", GuardInventory, t), nil
		}
	} else if kind == "redfish" || kind == "lifecycle" {
		return StatusSkipped, GuardInventory + ": no inventory to find the server in", nil
	}
	if known && kind == "redfish" && srv.BMC == "" {
		return StatusSkipped, fmt.Sprintf("%s: server %q has no bmc address", GuardInventory, t), nil
	}
	if known && srv.Lifecycle != "" && srv.Lifecycle != inventory.InService {
		return StatusSkipped, fmt.Sprintf("%s: the server's lifecycle state is %s; only in_service servers are remediated", GuardLifecycle, srv.Lifecycle), nil
	}
	if why := d.blastRadius(srv, known); why != "" {
		return StatusEscalated, GuardBlastRadius + ": " + why, nil
	}
	if g.CooldownPerServer > 0 {
		cd := time.Duration(g.CooldownPerServer)
		runs, err := d.tx.ListRemediationRuns(ctx, store.RemediationFilter{
			Action: r.Name, Target: t, Since: d.now.Add(-cd), Statuses: actedStatuses,
		})
		if err != nil {
			return "", "", err
		}
		var last *store.RemediationRun
		for i := range runs {
			if !runs[i].DryRun && (last == nil || runs[i].CreatedAt.After(last.CreatedAt)) {
				last = &runs[i]
			}
		}
		if last != nil {
			return StatusSkipped, fmt.Sprintf("%s: run %d acted on this server %s ago (incident %s); cooldown %s",
				GuardCooldownPerServer, last.ID, fmtAge(d.now.Sub(last.CreatedAt)), last.IncidentID, g.CooldownPerServer), nil
		}
	}
	if g.MaxPerHour > 0 {
		runs, err := d.tx.ListRemediationRuns(ctx, store.RemediationFilter{
			Action: r.Name, Since: d.now.Add(-time.Hour), Statuses: actedStatuses,
		})
		if err != nil {
			return "", "", err
		}
		if n := countReal(runs); n >= g.MaxPerHour {
			return StatusSkipped, fmt.Sprintf("%s: %d runs in the last hour (max_per_hour %d)", GuardMaxPerHour, n, g.MaxPerHour), nil
		}
	}
	if g.MaxConcurrent > 0 {
		runs, err := d.tx.ListRemediationRuns(ctx, store.RemediationFilter{
			Action: r.Name, Statuses: []string{StatusProposed, StatusRunning},
		})
		if err != nil {
			return "", "", err
		}
		if n := countReal(runs); n >= g.MaxConcurrent {
			return StatusSkipped, fmt.Sprintf("%s: %d runs queued or running (max_concurrent %d)", GuardMaxConcurrent, n, g.MaxConcurrent), nil
		}
	}
	if g.DryRun {
		why := GuardDryRun + ": would run " + d.e.describe(r, t)
		if g.RequireApproval {
			why += " after approval"
		}
		return StatusSkipped, why, nil
	}
	if g.RequireApproval {
		return StatusAwaitingApproval, GuardRequireApproval + ": waiting for approval", nil
	}
	return StatusProposed, "", nil
}

func countReal(runs []store.RemediationRun) int {
	n := 0
	for _, r := range runs {
		if !r.DryRun {
			n++
		}
	}
	return n
}

// blastRadius returns why too much is affected for automatic action, or "".
func (d *decision) blastRadius(srv inventory.Server, known bool) string {
	b := d.r.Guards.BlastRadius
	if b.MaxServers > 0 && len(d.affected) > b.MaxServers {
		return fmt.Sprintf("%d servers affected at once (max_servers %d)", len(d.affected), b.MaxServers)
	}
	if (b.MaxPercentOfRack > 0 || b.MaxPercentOfSite > 0) && !known {
		return "no inventory to count the server's rack and site"
	}
	if b.MaxPercentOfRack > 0 && srv.Rack != "" {
		key := [2]string{srv.Site, srv.Rack}
		if n, size := d.rackAffected[key], d.fleet.RackSize(srv.Site, srv.Rack); size > 0 {
			if pct := 100 * float64(n) / float64(size); pct > b.MaxPercentOfRack {
				return fmt.Sprintf("%d of %d servers (%s%%) in rack %s%s affected at once (max_percent_of_rack %g)",
					n, size, fmtPct(pct), srv.Rack, ofSite(srv.Site), b.MaxPercentOfRack)
			}
		}
	}
	if b.MaxPercentOfSite > 0 && srv.Site != "" {
		if n, size := d.siteAffected[srv.Site], d.fleet.SiteSize(srv.Site); size > 0 {
			if pct := 100 * float64(n) / float64(size); pct > b.MaxPercentOfSite {
				return fmt.Sprintf("%d of %d servers (%s%%) in site %s affected at once (max_percent_of_site %g)",
					n, size, fmtPct(pct), srv.Site, b.MaxPercentOfSite)
			}
		}
	}
	return ""
}

func ofSite(site string) string {
	if site == "" {
		return ""
	}
	return " of site " + site
}

func fmtPct(p float64) string { return strconv.FormatFloat(p, 'f', 0, 64) }

// escalate adds one incident_escalated event for the servers blast_radius
// refused in this decision, for the engine to page a human.
func (d *decision) escalate(ctx context.Context) error {
	if len(d.escalated) == 0 {
		return nil
	}
	data, err := json.Marshal(map[string]any{
		"remediation": d.r.Name,
		"action":      d.r.Action.Kind(),
		"targets":     d.escalated,
		"reason":      d.escReason,
	})
	if err != nil {
		return err
	}
	_, err = d.tx.AddEvent(ctx, store.TimelineEvent{
		IncidentID: d.inc.ID,
		Time:       d.now,
		Kind:       store.EventIncidentEscalated,
		Actor:      Actor,
		Summary: fmt.Sprintf("remediation %s not run automatically on %d server(s): %s; a human must decide",
			d.r.Name, len(d.escalated), d.escReason),
		Data: data,
	})
	return err
}

// describe says what the remediation does on server t, without secrets: an
// http action names only the scheme and host of a configured url.
func (e *Engine) describe(r *Remediation, t string) string {
	a := r.Action
	switch {
	case a.Exec != nil:
		return "exec " + strings.Join(quoteAll(a.Exec.Command), " ")
	case a.HTTP != nil:
		if a.HTTP.URLFile != "" {
			return fmt.Sprintf("http %s to the url in %s", a.HTTP.Method, a.HTTP.URLFile)
		}
		dest := "the configured url"
		if u, err := url.Parse(a.HTTP.URL); err == nil {
			dest = u.Scheme + "://" + u.Host
		}
		return fmt.Sprintf("http %s to %s", a.HTTP.Method, dest)
	case a.Redfish != nil:
		bmc := ""
		if f := e.loadFleet(); f != nil {
			if s, ok := f.Server(t); ok {
				bmc = " through bmc " + s.BMC
			}
		}
		if a.Redfish.PXEOnce {
			return "redfish pxe_once" + bmc
		}
		return "redfish reset " + a.Redfish.ResetType + bmc
	case a.Lifecycle != nil:
		return "lifecycle set " + t + " to " + string(a.Lifecycle.State)
	}
	return ""
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\"'\\") {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return out
}

package postmortem

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"

	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/sqlstore"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/pipeline"
	"github.com/fleetwatch/fleetwatch/pipeline/promapi"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// day is the scripted incident's date: the HPE mockup's IML entries were
// written on 2021-07-30.
func at(hms string) time.Time {
	t, err := time.Parse(time.RFC3339, "2021-07-30T"+hms+"Z")
	if err != nil {
		panic(err)
	}
	return t
}

// testNow is the clock of every test: the day after the incident.
var testNow = time.Date(2021, 7, 31, 0, 0, 0, 0, time.UTC)

const incID = "inc-20210730-0001"

// The scripted incident's labels.
func nodeDownLabels() map[string]string {
	return map[string]string{"alertname": "NodeNetworkDown", "device": "ens1f0", "instance": "dl325-01:9100", "job": "node",
		"rack": "r12", "server": "dl325-01", "site": "dc2", "severity": "critical", "service": "storage"}
}

func flapLabels() map[string]string {
	return map[string]string{"alertname": "NodeNetworkFlapping", "device": "ens10f0", "instance": "dl325-01:9100", "job": "node",
		"rack": "r12", "server": "dl325-01", "site": "dc2", "severity": "warning"}
}

func bmcLabels() map[string]string {
	return map[string]string{"server": "dl325-01", "bmc": "dl325-01-ilo", "rack": "r12", "site": "dc2"}
}

func switchLabels() map[string]string {
	return map[string]string{"switch": "sw-r12", "rack": "r12", "site": "dc2", "switch_port": "Et12"}
}

// testRules are the rules of the scripted incident.
func testRules() []Rule {
	return []Rule{
		{Name: "NodeNetworkDown", Expr: `node_network_up == 0`, For: 2 * time.Minute,
			Labels: map[string]string{"severity": "critical", "service": "storage"}, File: "rules/node.yml"},
		{Name: "NodeNetworkFlapping", Expr: `changes(node_network_up[5m]) > 2`, For: 0,
			Labels: map[string]string{"severity": "warning"}, File: "rules/node.yml"},
	}
}

// openStore opens an SQLite store in a temporary directory.
func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(filepath.Join(t.TempDir(), "alerts.db"), sqlstore.Options{Synchronous: sqlstore.SyncNormal})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// openTSDB opens the embedded TSDB in a temporary directory.
func openTSDB(t testing.TB) *pipeline.Store {
	t.Helper()
	db, err := pipeline.OpenStore(pipeline.StoreOptions{Path: t.TempDir(), OutOfOrderTimeWindow: 7 * 24 * time.Hour}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("open tsdb: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// appendSeries writes one series every step from start to end, its value
// given by f.
func appendSeries(t testing.TB, db storage.AppendableV2, ls map[string]string, start, end time.Time, step time.Duration, f func(time.Time) (float64, bool)) {
	t.Helper()
	app := db.AppenderV2(context.Background())
	lset := labels.FromMap(ls)
	for ts := start; !ts.After(end); ts = ts.Add(step) {
		v, ok := f(ts)
		if !ok {
			continue
		}
		if _, err := app.Append(0, lset, 0, ts.UnixMilli(), v, nil, nil, storage.AppendV2Options{}); err != nil {
			t.Fatalf("append %v: %v", ls, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func with(ls map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range ls {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func without(ls map[string]string, keys ...string) map[string]string {
	out := with(ls)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// The onset of the scripted incident: node_network_up of ens1f0 turns 0.
var (
	onset     = at("17:22:00")
	recovered = at("17:32:15")
)

// loadTSDB writes the scripted incident's series: the NIC's link state,
// the flapping second NIC, and the ALERTS series the rule engine wrote.
func loadTSDB(t testing.TB, db *pipeline.Store) {
	t.Helper()
	base := without(nodeDownLabels(), "alertname", "severity", "service")
	base["__name__"] = "node_network_up"
	appendSeries(t, db, base, at("16:00:00"), at("18:30:00"), 15*time.Second, func(ts time.Time) (float64, bool) {
		if !ts.Before(onset) && ts.Before(recovered) {
			return 0, true
		}
		return 1, true
	})
	flap := without(flapLabels(), "alertname", "severity")
	flap["__name__"] = "node_network_up"
	appendSeries(t, db, flap, at("16:00:00"), at("18:30:00"), 15*time.Second, func(ts time.Time) (float64, bool) {
		if ts.After(at("17:26:00")) && ts.Before(at("17:38:00")) && (ts.Unix()/60)%2 == 0 {
			return 0, true
		}
		return 1, true
	})
	alerts := with(nodeDownLabels(), "__name__", "ALERTS")
	appendSeries(t, db, with(alerts, "alertstate", "pending"), at("17:22:00"), at("17:23:45"), 15*time.Second,
		func(time.Time) (float64, bool) { return 1, true })
	appendSeries(t, db, with(alerts, "alertstate", "firing"), at("17:24:00"), at("17:32:00"), 15*time.Second,
		func(time.Time) (float64, bool) { return 1, true })
}

// logEntry is the part of a Redfish LogEntry the collector turns into an event.
type logEntry struct {
	ID              string `json:"Id"`
	Created         string `json:"Created"`
	EntryType       string `json:"EntryType"`
	Message         string `json:"Message"`
	MessageID       string `json:"MessageId"`
	OemRecordFormat string `json:"OemRecordFormat"`
	Severity        string `json:"Severity"`
}

// redfishEvents reads the copied IML entries as the Redfish collector
// hands them to the alerter.
func redfishEvents(t testing.TB) []events.Event {
	t.Helper()
	dir := "testdata/redfish/hpe-proliant-dl325-gen10plus-ilo5/Systems/1/LogServices/IML/Entries"
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for _, d := range ents {
		b, err := os.ReadFile(filepath.Join(dir, d.Name(), "index.json"))
		if err != nil {
			t.Fatal(err)
		}
		var e logEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		created, err := time.Parse(time.RFC3339, e.Created)
		if err != nil {
			t.Fatalf("%s: %v", d.Name(), err)
		}
		sev := events.Info
		switch e.Severity {
		case "Critical":
			sev = events.Critical
		case "Warning":
			sev = events.Warning
		}
		kind := firstNonEmpty(e.MessageID, e.OemRecordFormat, e.EntryType, "LogEntry")
		out = append(out, events.Event{Time: created, Source: events.SourceRedfishLog, Kind: kind, Severity: sev, Summary: e.Message,
			Labels: bmcLabels(), Attributes: map[string]string{"log_service": "IML", "entry_id": e.ID, "severity": e.Severity, "created": e.Created}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// externalEvent is an event as the alerter puts it on the timeline.
func externalEvent(incidentID string, e events.Event) store.TimelineEvent {
	data, _ := json.Marshal(map[string]any{"source": e.Source, "kind": e.Kind, "severity": e.Severity, "attributes": e.Attributes, "time": e.Time})
	return store.TimelineEvent{IncidentID: incidentID, Time: e.Time, Kind: store.EventExternal, Actor: "event:" + e.Source,
		Summary: e.Summary, Labels: e.Labels, Data: data}
}

func runData(run store.RemediationRun, guard string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"run_id": run.ID, "remediation": run.Action, "action": "exec", "target": run.Target,
		"status": run.Status, "guard": guard, "reason": run.Reason})
	return b
}

// loadIncident writes the scripted incident into st as the alerter does:
// the incident, its alerts, the timeline (alerts, the HPE IML entries,
// SNMP traps from the ToR switch, pages, an acknowledgement, notes, a
// skipped and an approved remediation run), fleet events around it and
// the outbox's outcome.
func loadIncident(t testing.TB, st *sqlstore.Store) {
	t.Helper()
	ctx := context.Background()
	inc := store.Incident{ID: incID, GroupKey: `{}/{site="dc2"}:{rack="r12"}`, Route: "/storage", Receiver: "pagerduty-storage",
		Title: "NodeNetworkDown on dl325-01 (rack r12)", Cause: "switch sw-r12 port Et12 down", Severity: "critical",
		State: store.Resolved, Labels: map[string]string{"site": "dc2", "rack": "r12", "server": "dl325-01"},
		Assignee: "alice", AlertCount: 2, FiringCount: 0, CreatedAt: at("17:24:30"), UpdatedAt: at("17:40:30"),
		AcknowledgedAt: at("17:29:10"), ResolvedAt: at("17:40:30"), LastNotifiedAt: at("17:40:30")}
	var evs []store.TimelineEvent
	ev := func(id string, ts time.Time, kind, actor, summary string, ls map[string]string, data json.RawMessage) {
		evs = append(evs, store.TimelineEvent{IncidentID: id, Time: ts, Kind: kind, Actor: actor, Summary: summary, Labels: ls, Data: data})
	}
	ev("", at("16:50:00"), store.EventConfigReload, "fleetwatch", "configuration reloaded (rules: 212, routes: 14)", nil, nil)
	chg := events.Event{Time: at("17:05:00"), Source: events.SourceAPI, Kind: "deploy", Severity: events.Info,
		Summary: "nic-firmware-policy v2 rolled out to rack r12", Labels: map[string]string{"rack": "r12", "site": "dc2"}}
	evs = append(evs, externalEvent("", chg))
	// SNMP: a burst of identical linkDown traps from the ToR switch.
	for i := 0; i < 6; i++ {
		trap := events.Event{Time: at("17:21:50").Add(time.Duration(i) * 10 * time.Second), Source: events.SourceSNMPTrap, Kind: "linkDown",
			Severity: events.Warning, Summary: "linkDown sw-r12 Et12 (ifIndex 12)", Labels: switchLabels(),
			Attributes: map[string]string{"ifIndex": "12", "ifOperStatus": "down"}}
		evs = append(evs, externalEvent("", trap))
	}
	for _, e := range redfishEvents(t) {
		id := ""
		if !e.Time.Before(inc.CreatedAt) && e.Time.Before(inc.ResolvedAt) {
			id = incID
		}
		evs = append(evs, externalEvent(id, e))
	}
	nd, fl := nodeDownLabels(), flapLabels()
	ev(incID, at("17:24:30"), store.EventIncidentCreated, "fleetwatch", "incident opened: NodeNetworkDown on dl325-01 (rack r12) (receiver pagerduty-storage)", inc.Labels, nil)
	ev(incID, at("17:24:30"), store.EventAlertFiring, "fleetwatch", "alert NodeNetworkDown firing since 2021-07-30T17:24:00Z", nd, nil)
	ev(incID, at("17:24:30"), store.EventNotificationQueued, "fleetwatch", "trigger to pagerduty-storage queued", nil, nil)
	skip := store.RemediationRun{ID: 1, Action: "reboot", Target: "dl325-01", Status: "skipped", Reason: "cooldown: dl325-01 was rebooted 2h ago"}
	ev(incID, at("17:24:31"), store.EventRemediationSkipped, "fleetwatch", "reboot on dl325-01 skipped: cooldown: dl325-01 was rebooted 2h ago",
		map[string]string{"server": "dl325-01"}, runData(skip, "cooldown"))
	ev(incID, at("17:24:31"), store.EventNotificationFailed, "fleetwatch", "trigger to pagerduty-storage failed (attempt 1), retrying at 2021-07-30T17:24:36Z: 503 Service Unavailable",
		nil, json.RawMessage(`{"notification":1,"action":"trigger","receiver":"pagerduty-storage","attempt":1}`))
	ev(incID, at("17:24:36"), store.EventNotificationSent, "fleetwatch", "trigger sent to pagerduty-storage (attempt 2)",
		nil, json.RawMessage(`{"notification":1,"action":"trigger","receiver":"pagerduty-storage","attempt":2}`))
	for i := 0; i < 4; i++ {
		fire := at("17:26:15").Add(time.Duration(i) * 3 * time.Minute)
		kind := store.EventIncidentGrouped
		ev(incID, fire, kind, "fleetwatch", "alert NodeNetworkFlapping firing since "+fire.Format(time.RFC3339), fl, nil)
		ev(incID, fire.Add(90*time.Second), store.EventAlertResolved, "fleetwatch", "alert NodeNetworkFlapping resolved at "+fire.Add(90*time.Second).Format(time.RFC3339), fl, nil)
	}
	ev(incID, at("17:29:10"), store.EventAcknowledged, "user:alice", "acknowledged by alice", nil, nil)
	ev(incID, at("17:29:11"), store.EventNotificationSent, "fleetwatch", "acknowledge sent to pagerduty-storage (attempt 1)",
		nil, json.RawMessage(`{"notification":2,"action":"acknowledge","receiver":"pagerduty-storage","attempt":1}`))
	ev(incID, at("17:30:00"), store.EventNote, "user:alice", "NIC in slot 1 keeps losing its link; sw-r12 Et12 shows CRC errors", nil, nil)
	bounce := store.RemediationRun{ID: 2, Action: "bounce-port", Target: "dl325-01", Status: "awaiting_approval", Reason: "approval: bounce-port needs a person"}
	ev(incID, at("17:31:00"), store.EventRemediationProposed, "fleetwatch", "bounce-port on dl325-01 awaits approval", map[string]string{"server": "dl325-01"}, runData(bounce, "approval"))
	bounce.Status, bounce.Reason = "running", ""
	ev(incID, at("17:31:40"), store.EventRemediationApproved, "user:alice", "bounce-port on dl325-01 approved by alice", map[string]string{"server": "dl325-01"}, runData(bounce, ""))
	ev(incID, at("17:31:41"), store.EventRemediationStarted, "user:alice", "bounce-port on dl325-01 started", map[string]string{"server": "dl325-01"}, runData(bounce, ""))
	bounce.Status = "succeeded"
	ev(incID, at("17:32:10"), store.EventRemediationFinished, "fleetwatch", "bounce-port on dl325-01 succeeded", map[string]string{"server": "dl325-01"}, runData(bounce, ""))
	ev(incID, at("17:33:00"), store.EventAlertResolved, "fleetwatch", "alert NodeNetworkDown resolved at 2021-07-30T17:32:30Z", nd, nil)
	ev(incID, at("17:40:30"), store.EventResolved, "fleetwatch", "all alerts resolved", nil, nil)
	ev(incID, at("17:40:31"), store.EventNotificationSent, "fleetwatch", "resolve sent to pagerduty-storage (attempt 1)",
		nil, json.RawMessage(`{"notification":3,"action":"resolve","receiver":"pagerduty-storage","attempt":1}`))
	ev(incID, at("17:45:00"), store.EventNote, "user:bob", "mitigated by the port bounce; the SFP in slot 1 is replaced tomorrow", nil, nil)
	ev("", at("17:50:00"), store.EventLifecycle, "api:inventory", "dl325-01: in_service → repair", map[string]string{"server": "dl325-01", "rack": "r12", "site": "dc2"}, nil)
	// Noise elsewhere in the fleet, not the incident's.
	ev("", at("17:23:00"), store.EventExternal, "event:snmp_trap", "linkDown sw-r40 Et3", map[string]string{"switch": "sw-r40", "rack": "r40", "site": "dc2"},
		json.RawMessage(`{"source":"snmp_trap","kind":"linkDown","severity":"warning"}`))
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })

	err := st.Update(ctx, func(tx store.Tx) error {
		if err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		for _, a := range []store.Alert{
			{Fingerprint: "a1b2c3d4e5f60001", Labels: nd, Annotations: map[string]string{"summary": "ens1f0 on dl325-01 is down"},
				StartsAt: at("17:24:00"), EndsAt: at("17:32:30"), UpdatedAt: at("17:33:00"), IncidentID: incID},
			{Fingerprint: "a1b2c3d4e5f60002", Labels: fl, StartsAt: at("17:35:15"), EndsAt: at("17:36:45"), UpdatedAt: at("17:36:45"), IncidentID: incID},
		} {
			if err := tx.PutAlert(ctx, a); err != nil {
				return err
			}
		}
		for _, e := range evs {
			if _, err := tx.AddEvent(ctx, e); err != nil {
				return err
			}
		}
		for _, r := range []store.RemediationRun{
			{IncidentID: incID, Action: "reboot", Target: "dl325-01", Status: "skipped", Reason: "cooldown: dl325-01 was rebooted 2h ago",
				Actor: "fleetwatch", CreatedAt: at("17:24:31"), FinishedAt: at("17:24:31")},
			{IncidentID: incID, Action: "bounce-port", Target: "dl325-01", Status: "succeeded", Actor: "user:alice",
				CreatedAt: at("17:31:00"), FinishedAt: at("17:32:10"), Output: "Et12: shutdown; no shutdown: ok"},
		} {
			if _, err := tx.AddRemediationRun(ctx, r); err != nil {
				return err
			}
		}
		for _, n := range []store.Notification{
			{IncidentID: incID, Receiver: "pagerduty-storage", Action: "trigger", Payload: json.RawMessage(`{}`), CreatedAt: at("17:24:30"), NextAttempt: at("17:24:30")},
			{IncidentID: incID, Receiver: "pagerduty-storage", Action: "acknowledge", Payload: json.RawMessage(`{}`), CreatedAt: at("17:29:10"), NextAttempt: at("17:29:10")},
			{IncidentID: incID, Receiver: "pagerduty-storage", Action: "resolve", Payload: json.RawMessage(`{}`), CreatedAt: at("17:40:30"), NextAttempt: at("17:40:30")},
		} {
			if _, err := tx.Enqueue(ctx, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("load incident: %v", err)
	}
	// The outbox's outcome: the trigger needed a retry.
	deliver := func(now time.Time, errMsg string, next time.Time) {
		ns, err := st.ClaimNotifications(ctx, "test", now, time.Minute, 1)
		if err != nil || len(ns) != 1 {
			t.Fatalf("claim at %s: %v (%d)", now, err, len(ns))
		}
		if err := st.FinishNotification(ctx, ns[0].ID, now, errMsg, next); err != nil {
			t.Fatal(err)
		}
	}
	deliver(at("17:24:31"), "503 Service Unavailable", at("17:24:36"))
	deliver(at("17:24:36"), "", time.Time{})
	deliver(at("17:29:11"), "", time.Time{})
	deliver(at("17:40:31"), "", time.Time{})
}

// scripted returns Sources over the scripted incident.
func scripted(t testing.TB) Sources {
	t.Helper()
	st := openStore(t)
	loadIncident(t, st)
	db := openTSDB(t)
	loadTSDB(t, db)
	return Sources{Store: st, Queryable: db, Engine: promapi.NewEngine(promapi.EngineOptions{}, slog.New(slog.DiscardHandler), nil),
		Rules: RulesFromList(testRules()), Now: func() time.Time { return testNow }}
}

// golden compares got with testdata/golden/name, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./postmortem -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		diffAt := 0
		for diffAt < len(got) && diffAt < len(want) && got[diffAt] == want[diffAt] {
			diffAt++
		}
		lo := max(0, diffAt-200)
		t.Errorf("%s differs from the golden file at byte %d (run with -update if the change is right):\ngot:  %q\nwant: %q",
			name, diffAt, clip(got[lo:], 400), clip(want[lo:], 400))
	}
}

func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

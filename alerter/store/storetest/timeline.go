package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func testEvents(t *testing.T, s store.Store) {
	ctx := context.Background()
	evs := []store.TimelineEvent{
		{IncidentID: "inc-1", Time: t0, Kind: store.EventIncidentCreated, Actor: "fleetwatch", Summary: "incident opened",
			Labels: map[string]string{"rack": "R12", "site": "dc1"}},
		{IncidentID: "inc-1", Time: t0.Add(time.Second), Kind: store.EventAlertFiring, Actor: "rule:HostDown", Summary: "srv-001 down",
			Labels: map[string]string{"instance": "srv-001", "rack": "R12"}, Data: json.RawMessage(`{"fingerprint":"0000000000000001"}`)},
		{IncidentID: "", Time: t0.Add(2 * time.Second), Kind: store.EventExternal, Actor: "snmp", Summary: "linkDown sw-r12 Et49",
			Labels: map[string]string{"device": "sw-r12", "rack": "R12"}},
		{IncidentID: "inc-2", Time: t0.Add(time.Hour), Kind: store.EventNote, Actor: "user:alice", Summary: "looking"},
		{IncidentID: "inc-1", Time: t0.Add(2 * time.Hour), Kind: store.EventResolved, Actor: "fleetwatch", Summary: "all alerts resolved"},
	}
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		var last int64
		for i := range evs {
			id, err := tx.AddEvent(ctx, evs[i])
			if err != nil {
				return err
			}
			if id <= last {
				t.Errorf("event id %d after %d: ids must increase", id, last)
			}
			evs[i].ID, last = id, id
		}
		return nil
	})
	equal(t, "all events", must(s.ListEvents(ctx, store.EventFilter{}))(t), evs)

	ids := func(es []store.TimelineEvent) []int64 {
		var out []int64
		for _, e := range es {
			out = append(out, e.ID)
		}
		return out
	}
	id := func(i ...int) []int64 {
		var out []int64
		for _, j := range i {
			out = append(out, evs[j].ID)
		}
		return out
	}
	tests := []struct {
		name string
		f    store.EventFilter
		want []int64
	}{
		{"incident", store.EventFilter{IncidentID: "inc-1"}, id(0, 1, 4)},
		{"kinds", store.EventFilter{Kinds: []string{store.EventNote, store.EventExternal}}, id(2, 3)},
		{"since", store.EventFilter{Since: t0.Add(2 * time.Second)}, id(2, 3, 4)},
		{"until", store.EventFilter{Until: t0.Add(2 * time.Second)}, id(0, 1)},
		{"one-hour window", store.EventFilter{Since: t0, Until: t0.Add(time.Hour)}, id(0, 1, 2)},
		{"labels", store.EventFilter{Labels: map[string]string{"rack": "R12"}}, id(0, 1, 2)},
		{"labels and incident", store.EventFilter{IncidentID: "inc-1", Labels: map[string]string{"rack": "R12"}}, id(0, 1)},
		{"after id (tailing)", store.EventFilter{AfterID: evs[2].ID}, id(3, 4)},
		{"limit (paging)", store.EventFilter{Limit: 2}, id(0, 1)},
		{"next page", store.EventFilter{AfterID: evs[1].ID, Limit: 2}, id(2, 3)},
		{"limit after label filter", store.EventFilter{Labels: map[string]string{"rack": "R12"}, Limit: 2, AfterID: evs[0].ID}, id(1, 2)},
		{"no match", store.EventFilter{IncidentID: "inc-9"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			equal(t, "event ids", ids(must(s.ListEvents(ctx, tc.f))(t)), tc.want)
		})
	}

	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: "inc-1", Time: t0, Kind: store.EventNote, Summary: "ok"}); err != nil {
			return err
		}
		_, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: "inc-1", Time: t0, Kind: store.EventNote, Data: json.RawMessage(`{not json`)})
		return err
	})
	if err == nil {
		t.Error("event with invalid JSON data: no error")
	}
	if n := len(must(s.ListEvents(ctx, store.EventFilter{}))(t)); n != len(evs) {
		t.Errorf("%d events after the refused transaction, want %d", n, len(evs))
	}
}

var errAbort = errors.New("abort")

// testTransactions: a failed Update leaves nothing; a Tx sees its own
// writes; nobody else sees them before the commit.
func testTransactions(t *testing.T, s store.Store) {
	ctx := context.Background()
	inc := incident("inc-tx", "grp-tx", t0)
	writeAll := func(tx store.Tx) error {
		if err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		if err := tx.PutAlert(ctx, alert("00000000000000aa", inc.ID, t0, time.Time{})); err != nil {
			return err
		}
		if _, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: inc.ID, Time: t0, Kind: store.EventIncidentCreated}); err != nil {
			return err
		}
		if err := tx.PutSilence(ctx, store.Silence{ID: "s-tx", StartsAt: t0, EndsAt: t0.Add(time.Hour)}); err != nil {
			return err
		}
		if _, err := tx.Enqueue(ctx, notification(inc.ID, "trigger", t0)); err != nil {
			return err
		}
		_, err := tx.AddRemediationRun(ctx, store.RemediationRun{IncidentID: inc.ID, Action: "drain", CreatedAt: t0})
		return err
	}
	counts := func(r store.Reader) string {
		t.Helper()
		incs := must(r.ListIncidents(ctx, store.IncidentFilter{}))(t)
		alerts := must(r.ListAlerts(ctx, store.AlertFilter{}))(t)
		evs := must(r.ListEvents(ctx, store.EventFilter{}))(t)
		sils := must(r.ListSilences(ctx))(t)
		ns := must(r.ListNotifications(ctx, store.NotificationFilter{}))(t)
		runs := must(r.ListRemediationRuns(ctx, store.RemediationFilter{}))(t)
		return fmt.Sprintf("incidents %d alerts %d events %d silences %d notifications %d runs %d",
			len(incs), len(alerts), len(evs), len(sils), len(ns), len(runs))
	}
	const none = "incidents 0 alerts 0 events 0 silences 0 notifications 0 runs 0"
	const one = "incidents 1 alerts 1 events 1 silences 1 notifications 1 runs 1"

	t.Run("rollback on error", func(t *testing.T) {
		err := s.Update(ctx, func(tx store.Tx) error {
			if err := writeAll(tx); err != nil {
				return err
			}
			return errAbort
		})
		wantErr(t, "Update's error", err, errAbort)
		if got := counts(s); got != none {
			t.Errorf("after rollback: %s", got)
		}
	})
	t.Run("rollback on panic", func(t *testing.T) {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Error("the panic in fn did not reach the caller")
				}
			}()
			_ = s.Update(ctx, func(tx store.Tx) error {
				if err := writeAll(tx); err != nil {
					return err
				}
				panic("fn panicked")
			})
		}()
		if got := counts(s); got != none {
			t.Errorf("after panic: %s", got)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err := s.Update(cctx, func(tx store.Tx) error { return writeAll(tx) })
		if err == nil {
			t.Error("Update with a cancelled context: no error")
		}
		if got := counts(s); got != none {
			t.Errorf("after cancelled Update: %s", got)
		}
	})
	t.Run("own writes visible, others' not", func(t *testing.T) {
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			if err := writeAll(tx); err != nil {
				return err
			}
			if got := counts(tx); got != one {
				t.Errorf("inside the transaction: %s", got)
			}
			if got, err := tx.OpenIncident(ctx, inc.GroupKey); err != nil || got.ID != inc.ID {
				t.Errorf("OpenIncident inside the transaction: %v %v", got.ID, err)
			}
			if got := counts(s); got != none {
				t.Errorf("outside, before commit: %s", got)
			}
			return nil
		})
		if got := counts(s); got != one {
			t.Errorf("after commit: %s", got)
		}
	})
}

// testConcurrentUpdates: concurrent read-modify-write of one incident with
// retry on ErrConflict loses no increment, and concurrent appends all land.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := context.Background()
	inc := incident("inc-c", "grp-c", t0)
	inc.AlertCount = 0
	update(t, s, func(ctx context.Context, tx store.Tx) error { return tx.CreateIncident(ctx, inc) })
	const workers, each = 4, 10
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		errs      = make(chan error, workers)
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				cur, err := s.GetIncident(ctx, inc.ID)
				if err != nil {
					errs <- err
					return
				}
				err = s.Update(ctx, func(tx store.Tx) error {
					cur.AlertCount++
					if _, err := tx.UpdateIncident(ctx, cur); err != nil {
						return err
					}
					_, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: inc.ID, Time: t0, Kind: store.EventIncidentGrouped,
						Summary: fmt.Sprintf("worker %d alert %d", w, i)})
					return err
				})
				switch {
				case errors.Is(err, store.ErrConflict):
					mu.Lock()
					conflicts++
					mu.Unlock()
				case err != nil:
					errs <- err
					return
				default:
					i++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("worker: %v", err)
	}
	got := must(s.GetIncident(ctx, inc.ID))(t)
	if got.AlertCount != workers*each {
		t.Errorf("alert count %d after %d increments (%d conflicts retried)", got.AlertCount, workers*each, conflicts)
	}
	if got.Version != 1+workers*each {
		t.Errorf("version %d, want %d", got.Version, 1+workers*each)
	}
	evs := must(s.ListEvents(ctx, store.EventFilter{IncidentID: inc.ID}))(t)
	if len(evs) != workers*each {
		t.Errorf("%d events, want %d (an event of a conflicting update was kept, or one was lost)", len(evs), workers*each)
	}
	t.Logf("%d conflicts retried", conflicts)
}

func testJSONRoundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	tests := []struct {
		name   string
		labels map[string]string
		data   json.RawMessage
	}{
		{"nil map", nil, nil},
		{"empty map", map[string]string{}, json.RawMessage(`{}`)},
		{"unicode", map[string]string{"site": "東京-1", "owner": "Zoë 🚒", "rack": "Ř12"}, json.RawMessage(`{"note":"серверы недоступны"}`)},
		{"quotes and escapes", map[string]string{`a"b`: `c\d`, "nl": "line1\nline2\ttab", "html": "<b>&amp;</b>"}, json.RawMessage(`["\"", "\\", "\u00e9"]`)},
		{"empty value and key", map[string]string{"": "empty key", "empty": ""}, json.RawMessage(`null`)},
		{"raw JSON kept as written", map[string]string{"k": "v"}, json.RawMessage(`{ "b": 1,  "a": [1, 2.50, true] }`)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fp := fmt.Sprintf("%016x", i+1)
			a := alert(fp, "", t0, time.Time{})
			a.Labels, a.Annotations = tc.labels, tc.labels
			inc := incident(fmt.Sprintf("inc-json-%d", i), fmt.Sprintf("g-%d", i), t0)
			inc.Labels = tc.labels
			ev := store.TimelineEvent{IncidentID: inc.ID, Time: t0, Kind: store.EventNote, Labels: tc.labels, Data: tc.data}
			n := notification(inc.ID, "trigger", t0)
			n.Payload = tc.data
			update(t, s, func(ctx context.Context, tx store.Tx) error {
				if err := tx.PutAlert(ctx, a); err != nil {
					return err
				}
				if err := tx.CreateIncident(ctx, inc); err != nil {
					return err
				}
				var err error
				if ev.ID, err = tx.AddEvent(ctx, ev); err != nil {
					return err
				}
				n.ID, err = tx.Enqueue(ctx, n)
				return err
			})
			gotA := must(s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{fp}}))(t)
			if len(gotA) != 1 {
				t.Fatalf("%d alerts", len(gotA))
			}
			equal(t, "alert labels", gotA[0].Labels, tc.labels)
			equal(t, "alert annotations", gotA[0].Annotations, tc.labels)
			equal(t, "incident labels", must(s.GetIncident(ctx, inc.ID))(t).Labels, tc.labels)
			gotE := must(s.ListEvents(ctx, store.EventFilter{IncidentID: inc.ID}))(t)
			if len(gotE) != 1 {
				t.Fatalf("%d events", len(gotE))
			}
			equal(t, "event labels", gotE[0].Labels, tc.labels)
			if string(gotE[0].Data) != string(tc.data) {
				t.Errorf("event data %q, want %q", gotE[0].Data, tc.data)
			}
			gotN := must(s.ListNotifications(ctx, store.NotificationFilter{IncidentID: inc.ID}))(t)
			if len(gotN) != 1 || string(gotN[0].Payload) != string(tc.data) {
				t.Errorf("notification payload %v, want %q", gotN, tc.data)
			}
			if len(tc.labels) > 0 {
				// Label filters match the decoded values exactly.
				got := must(s.ListEvents(ctx, store.EventFilter{Labels: tc.labels}))(t)
				if len(got) != 1 || got[0].ID != ev.ID {
					t.Errorf("event filter by its own labels found %d events", len(got))
				}
			}
		})
	}
}

// testTimes: times come back as the same instant, in UTC, to the
// nanosecond; zero times stay zero.
func testTimes(t *testing.T, s store.Store) {
	ctx := context.Background()
	tokyo := time.FixedZone("JST", 9*3600)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	created := time.Date(2026, 3, 8, 1, 59, 59, 999999999, ny) // just before a DST switch
	acked := time.Date(2026, 3, 8, 21, 0, 0, 1, tokyo)
	inc := incident("inc-time", "g-time", created)
	inc.UpdatedAt, inc.AcknowledgedAt = acked, acked
	// A time read from the clock carries a monotonic reading: it is dropped.
	now := time.Now()
	a := alert("00000000000000ee", inc.ID, now, time.Time{})
	a.UpdatedAt = now.In(tokyo)
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.CreateIncident(ctx, inc); err != nil {
			return err
		}
		return tx.PutAlert(ctx, a)
	})
	got := must(s.GetIncident(ctx, inc.ID))(t)
	checkUTC := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) {
			t.Errorf("%s = %v, want the instant %v", what, got, want)
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("%s in %v, want UTC", what, got.Location())
		}
		if got.IsZero() != want.IsZero() {
			t.Errorf("%s zero = %v, want %v", what, got.IsZero(), want.IsZero())
		}
	}
	checkUTC("CreatedAt", got.CreatedAt, created)
	checkUTC("AcknowledgedAt", got.AcknowledgedAt, acked)
	checkUTC("ResolvedAt (unset)", got.ResolvedAt, time.Time{})
	checkUTC("LastNotifiedAt (unset)", got.LastNotifiedAt, time.Time{})
	ga := must(s.ListAlerts(ctx, store.AlertFilter{IncidentID: inc.ID}))(t)
	if len(ga) != 1 {
		t.Fatalf("%d alerts", len(ga))
	}
	checkUTC("alert StartsAt (from the clock)", ga[0].StartsAt, now)
	checkUTC("alert UpdatedAt", ga[0].UpdatedAt, now)
	checkUTC("alert EndsAt (unset)", ga[0].EndsAt, time.Time{})

	// Filters compare instants, whatever the zone they are given in.
	list := must(s.ListIncidents(ctx, store.IncidentFilter{Since: created.In(tokyo), Until: created.Add(time.Nanosecond).In(ny)}))(t)
	if len(list) != 1 {
		t.Errorf("incidents in a 1 ns window given in other zones: %d, want 1", len(list))
	}
	list = must(s.ListIncidents(ctx, store.IncidentFilter{Since: created.Add(time.Nanosecond)}))(t)
	if len(list) != 0 {
		t.Errorf("incidents created after %v: %d, want 0", created, len(list))
	}
}

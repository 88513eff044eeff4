package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// testLeases checks store.Leaser: one holder at a time, renewal, takeover
// once the lease lapsed or was released, terms that increase with every
// new holder.
func testLeases(t *testing.T, s store.Store) {
	l, ok := s.(store.Leaser)
	if !ok {
		t.Skip("the store has no leases (store.Leaser)")
	}
	ctx := context.Background()
	try := func(owner string, ttl time.Duration) store.Lease {
		t.Helper()
		got, err := l.TryLease(ctx, "alerter", owner, ttl)
		if err != nil {
			t.Fatalf("TryLease(%s): %v", owner, err)
		}
		return got
	}
	steps := []struct {
		name       string
		owner      string
		ttl        time.Duration
		sleep      time.Duration // before the step
		release    string        // release by this owner before the step
		wantHolder string
		wantTerm   int64
	}{
		{name: "free lease taken", owner: "a", ttl: time.Minute, wantHolder: "a", wantTerm: 1},
		{name: "held: b is refused", owner: "b", ttl: time.Minute, wantHolder: "a", wantTerm: 1},
		{name: "holder renews, same term", owner: "a", ttl: 300 * time.Millisecond, wantHolder: "a", wantTerm: 1},
		{name: "still held just after renewal", owner: "b", ttl: time.Minute, wantHolder: "a", wantTerm: 1},
		{name: "lapsed: b takes it, new term", owner: "b", ttl: time.Minute, sleep: 600 * time.Millisecond, wantHolder: "b", wantTerm: 2},
		{name: "a is refused", owner: "a", ttl: time.Minute, wantHolder: "b", wantTerm: 2},
		{name: "release by a non-holder changes nothing", owner: "c", ttl: time.Minute, release: "a", wantHolder: "b", wantTerm: 2},
		{name: "released: c takes it at once", owner: "c", ttl: time.Minute, release: "b", wantHolder: "c", wantTerm: 3},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			time.Sleep(st.sleep)
			if st.release != "" {
				if err := l.ReleaseLease(ctx, "alerter", st.release); err != nil {
					t.Fatal(err)
				}
			}
			got := try(st.owner, st.ttl)
			if got.Holder != st.wantHolder || got.Term != st.wantTerm {
				t.Errorf("TryLease(%s) = holder %q term %d, want %q term %d", st.owner, got.Holder, got.Term, st.wantHolder, st.wantTerm)
			}
		})
	}
	t.Run("leases are independent by name", func(t *testing.T) {
		got, err := l.TryLease(ctx, "other", "a", time.Minute)
		if err != nil || got.Holder != "a" || got.Term != 1 {
			t.Errorf("TryLease(other, a) = %+v, %v; want a, term 1", got, err)
		}
	})
	t.Run("bad arguments are refused", func(t *testing.T) {
		for _, c := range []struct {
			name, owner string
			ttl         time.Duration
		}{{"", "a", time.Second}, {"x", "", time.Second}, {"x", "a", 0}} {
			if _, err := l.TryLease(ctx, c.name, c.owner, c.ttl); err == nil {
				t.Errorf("TryLease(%q, %q, %v): no error", c.name, c.owner, c.ttl)
			}
		}
	})
}

// testObserveAlerts checks store.AlertObserver: a standby's write keeps the
// incident and suppression of the alert's episode and clears them for a
// new episode.
func testObserveAlerts(t *testing.T, s store.Store) {
	ctx := context.Background()
	base := store.Alert{
		Fingerprint: "00000000000000aa", Labels: map[string]string{"alertname": "HostDown", "instance": "h1"},
		Annotations: map[string]string{}, StartsAt: t0, EndsAt: t0.Add(5 * time.Minute), UpdatedAt: t0,
		IncidentID: "inc-1", Suppressed: "",
	}
	muted := base
	muted.Fingerprint, muted.Suppressed, muted.IncidentID = "00000000000000bb", "silenced:s1", ""
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		if err := tx.PutAlert(ctx, base); err != nil {
			return err
		}
		return tx.PutAlert(ctx, muted)
	})
	observe := func(as ...store.Alert) {
		t.Helper()
		update(t, s, func(ctx context.Context, tx store.Tx) error {
			o, ok := tx.(store.AlertObserver)
			if !ok {
				t.Skip("the store's Tx has no ObserveAlerts (store.AlertObserver)")
			}
			return o.ObserveAlerts(ctx, as)
		})
	}
	get := func(fp string) store.Alert {
		t.Helper()
		as, err := s.ListAlerts(ctx, store.AlertFilter{Fingerprint: []string{fp}})
		if err != nil || len(as) != 1 {
			t.Fatalf("alert %s: %v, %v", fp, as, err)
		}
		return as[0]
	}

	// The standby re-sends the same episode with a later end, no incident.
	resend := base
	resend.IncidentID, resend.EndsAt, resend.UpdatedAt = "", t0.Add(9*time.Minute), t0.Add(time.Minute)
	resend.Annotations = map[string]string{"summary": "still down"}
	resend2 := muted
	resend2.Suppressed, resend2.EndsAt = "", t0.Add(9*time.Minute)
	observe(resend, resend2)
	want := base
	want.EndsAt, want.UpdatedAt, want.Annotations = resend.EndsAt, resend.UpdatedAt, resend.Annotations
	equal(t, "same episode keeps its incident", get(base.Fingerprint), want)
	if got := get(muted.Fingerprint); got.Suppressed != "silenced:s1" {
		t.Errorf("same episode: suppressed %q, want silenced:s1 kept", got.Suppressed)
	}

	// A later StartsAt of the same episode keeps the earlier one.
	later := resend
	later.StartsAt = t0.Add(30 * time.Second)
	observe(later)
	if got := get(base.Fingerprint); !got.StartsAt.Equal(t0) || got.IncidentID != "inc-1" {
		t.Errorf("same episode, later startsAt: %+v, want startsAt %v and incident kept", got, t0)
	}

	// It resolves, then fires again: the new episode belongs to no incident yet.
	resolved := resend
	resolved.EndsAt = t0.Add(2 * time.Minute)
	observe(resolved)
	if got := get(base.Fingerprint); got.IncidentID != "inc-1" || !got.EndsAt.Equal(resolved.EndsAt) {
		t.Errorf("resolve of the episode: %+v, want incident kept and the end stored", got)
	}
	again := resend
	again.StartsAt, again.EndsAt = t0.Add(3*time.Minute), t0.Add(8*time.Minute)
	observe(again)
	want = again
	equal(t, "a new episode starts without incident", get(base.Fingerprint), want)

	// An alert the store did not have is stored as given.
	fresh := again
	fresh.Fingerprint, fresh.Labels = "00000000000000cc", map[string]string{"alertname": "Fresh"}
	observe(fresh)
	equal(t, "new alert", get(fresh.Fingerprint), fresh)
}

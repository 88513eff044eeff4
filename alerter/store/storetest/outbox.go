package storetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

func notification(inc, action string, created time.Time) store.Notification {
	return store.Notification{
		IncidentID: inc, Receiver: "pagerduty-dc1", Action: action,
		Payload:   dataJSON(map[string]any{"event_action": action, "dedup_key": inc}),
		CreatedAt: created, NextAttempt: created,
	}
}

func enqueue(t *testing.T, s store.Store, ns ...store.Notification) []int64 {
	t.Helper()
	var ids []int64
	update(t, s, func(ctx context.Context, tx store.Tx) error {
		for _, n := range ns {
			id, err := tx.Enqueue(ctx, n)
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	return ids
}

func claimedIDs(ns []store.Notification) []int64 {
	var out []int64
	for _, n := range ns {
		out = append(out, n.ID)
	}
	return out
}

func testOutbox(t *testing.T, s store.Store) {
	ctx := context.Background()
	const lease = 30 * time.Second
	due := notification("inc-1", "trigger", t0)
	later := notification("inc-2", "trigger", t0)
	later.NextAttempt = t0.Add(time.Minute)
	fleet := notification("", "change", t0.Add(time.Second))
	fleet.Receiver = "pagerduty-changes"
	ids := enqueue(t, s, due, later, fleet)
	if !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("outbox ids %v must increase", ids)
	}

	stored := must(s.ListNotifications(ctx, store.NotificationFilter{}))(t)
	if len(stored) != 3 {
		t.Fatalf("stored %d notifications, want 3", len(stored))
	}
	want := due
	want.ID, want.State = ids[0], store.NotificationPending
	equal(t, "pending notification", stored[0], want)

	// Only due notifications, oldest first, each claimed once while leased.
	got := must(s.ClaimNotifications(ctx, "worker-a", t0.Add(2*time.Second), lease, 10))(t)
	equal(t, "claimed at +2s", claimedIDs(got), []int64{ids[0], ids[2]})
	if len(got) == 2 {
		if got[0].Attempts != 1 {
			t.Errorf("attempts after first claim = %d, want 1", got[0].Attempts)
		}
		if string(got[0].Payload) != string(due.Payload) {
			t.Errorf("claimed payload %s, want %s", got[0].Payload, due.Payload)
		}
	}
	equal(t, "claim while leased", claimedIDs(must(s.ClaimNotifications(ctx, "worker-b", t0.Add(10*time.Second), lease, 10))(t)), []int64(nil))

	// The lease runs out (worker-a died): claimable again, a second attempt.
	got = must(s.ClaimNotifications(ctx, "worker-b", t0.Add(2*time.Second+lease), lease, 1))(t)
	equal(t, "claim after lease expiry", claimedIDs(got), []int64{ids[0]})
	if len(got) == 1 && got[0].Attempts != 2 {
		t.Errorf("attempts after second claim = %d, want 2", got[0].Attempts)
	}

	// Sent: never handed out again.
	sentAt := t0.Add(40 * time.Second)
	if err := s.FinishNotification(ctx, ids[0], sentAt, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Retry later with the error kept.
	if err := s.FinishNotification(ctx, ids[2], t0.Add(41*time.Second), "HTTP 503 from events API", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	got = must(s.ClaimNotifications(ctx, "worker-c", t0.Add(2*time.Minute), lease, 10))(t)
	equal(t, "claim at +2m", claimedIDs(got), []int64{ids[1]})
	// Failed for good.
	if err := s.FinishNotification(ctx, ids[1], t0.Add(121*time.Second), "HTTP 400: invalid routing key", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got = must(s.ClaimNotifications(ctx, "worker-c", t0.Add(5*time.Minute), lease, 10))(t)
	equal(t, "claim at +5m (the retry)", claimedIDs(got), []int64{ids[2]})
	if err := s.FinishNotification(ctx, ids[2], t0.Add(5*time.Minute+time.Second), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	equal(t, "claim when all are done", claimedIDs(must(s.ClaimNotifications(ctx, "w", t0.Add(time.Hour), lease, 10))(t)), []int64(nil))

	all := must(s.ListNotifications(ctx, store.NotificationFilter{}))(t)
	byID := map[int64]store.Notification{}
	for _, n := range all {
		byID[n.ID] = n
	}
	if n := byID[ids[0]]; n.State != store.NotificationSent || !n.SentAt.Equal(sentAt) || n.Attempts != 2 {
		t.Errorf("sent notification: state %s sentAt %v attempts %d", n.State, n.SentAt, n.Attempts)
	}
	if n := byID[ids[1]]; n.State != store.NotificationFailed || n.LastError != "HTTP 400: invalid routing key" {
		t.Errorf("failed notification: state %s lastError %q", n.State, n.LastError)
	}
	if n := byID[ids[2]]; n.State != store.NotificationSent || n.LastError != "HTTP 503 from events API" || !n.NextAttempt.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("retried notification: state %s lastError %q next %v", n.State, n.LastError, n.NextAttempt)
	}

	wantErr(t, "finish unknown", s.FinishNotification(ctx, 999999, t0, "", time.Time{}), store.ErrNotFound)
	wantErr(t, "finish twice", s.FinishNotification(ctx, ids[0], t0, "", time.Time{}), store.ErrConflict)

	// Filters.
	equal(t, "by incident", claimedIDs(must(s.ListNotifications(ctx, store.NotificationFilter{IncidentID: "inc-2"}))(t)), []int64{ids[1]})
	equal(t, "by state", claimedIDs(must(s.ListNotifications(ctx, store.NotificationFilter{States: []string{store.NotificationSent}}))(t)), []int64{ids[0], ids[2]})
	equal(t, "limit", claimedIDs(must(s.ListNotifications(ctx, store.NotificationFilter{Limit: 1}))(t)), []int64{ids[0]})

	if _, err := s.ClaimNotifications(ctx, "w", t0, 0, 10); err == nil {
		t.Error("claim with a zero lease: no error")
	}
	err := s.Update(ctx, func(tx store.Tx) error {
		n := notification("inc-9", "trigger", t0)
		n.Payload = []byte(`{"broken":`)
		_, err := tx.Enqueue(ctx, n)
		return err
	})
	if err == nil {
		t.Error("enqueue with invalid JSON payload: no error")
	}
}

// testOutboxOrder: a resolve never overtakes the trigger of its incident
// and receiver, even when the trigger is retried later.
func testOutboxOrder(t *testing.T, s store.Store) {
	ctx := context.Background()
	const lease = time.Minute
	trig := notification("inc-1", "trigger", t0)
	other := notification("inc-2", "trigger", t0.Add(time.Second))
	slack := notification("inc-1", "trigger", t0.Add(time.Second))
	slack.Receiver = "slack-ops"
	ids := enqueue(t, s, trig, other, slack)
	res := notification("inc-1", "resolve", t0.Add(2*time.Second))
	ids = append(ids, enqueue(t, s, res)...)

	got := must(s.ClaimNotifications(ctx, "a", t0.Add(3*time.Second), lease, 10))(t)
	equal(t, "first claim (resolve waits for its trigger)", claimedIDs(got), []int64{ids[0], ids[1], ids[2]})
	for _, id := range ids[1:3] {
		if err := s.FinishNotification(ctx, id, t0.Add(4*time.Second), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	// The trigger fails and is retried in 5 minutes: the resolve still waits.
	if err := s.FinishNotification(ctx, ids[0], t0.Add(4*time.Second), "HTTP 500", t0.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	equal(t, "claim while the trigger waits to retry", claimedIDs(must(s.ClaimNotifications(ctx, "a", t0.Add(time.Minute), lease, 10))(t)), []int64(nil))
	got = must(s.ClaimNotifications(ctx, "a", t0.Add(5*time.Minute), lease, 10))(t)
	equal(t, "claim at the retry", claimedIDs(got), []int64{ids[0]})
	if err := s.FinishNotification(ctx, ids[0], t0.Add(5*time.Minute), "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	got = must(s.ClaimNotifications(ctx, "a", t0.Add(5*time.Minute), lease, 10))(t)
	equal(t, "claim after the trigger was sent", claimedIDs(got), []int64{ids[3]})
}

// testConcurrentClaimers: workers claiming at once never get the same
// notification, and together they get every one.
func testConcurrentClaimers(t *testing.T, s store.Store) {
	ctx := context.Background()
	const total, workers = 300, 6
	var ns []store.Notification
	for i := range total {
		ns = append(ns, notification(fmt.Sprintf("inc-%03d", i), "trigger", t0.Add(time.Duration(i)*time.Millisecond)))
	}
	ids := enqueue(t, s, ns...)

	var (
		mu      sync.Mutex
		claimed = map[int64]string{}
		dups    []string
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	now := t0.Add(time.Hour)
	for w := range workers {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimNotifications(ctx, owner, now, time.Hour, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, n := range got {
					if prev, ok := claimed[n.ID]; ok {
						dups = append(dups, fmt.Sprintf("%d by %s and %s", n.ID, prev, owner))
					}
					claimed[n.ID] = owner
				}
				mu.Unlock()
				for _, n := range got {
					if err := s.FinishNotification(ctx, n.ID, now, "", time.Time{}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("worker: %v", err)
	}
	if len(dups) > 0 {
		t.Errorf("notifications claimed twice: %v", dups)
	}
	if len(claimed) != total {
		var missing []int64
		for _, id := range ids {
			if _, ok := claimed[id]; !ok {
				missing = append(missing, id)
			}
		}
		sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
		t.Errorf("claimed %d of %d; never claimed: %v", len(claimed), total, missing)
	}
	sent := must(s.ListNotifications(ctx, store.NotificationFilter{States: []string{store.NotificationSent}}))(t)
	if len(sent) != total {
		t.Errorf("%d sent, want %d", len(sent), total)
	}
}

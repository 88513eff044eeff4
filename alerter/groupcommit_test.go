package alerter

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// gatedStore holds the first Update until the gate opens, then lets it
// fail or pass, and counts Updates.
type gatedStore struct {
	store.Store
	updates atomic.Int64
	entered chan struct{}
	gate    chan error
}

func (g *gatedStore) Update(ctx context.Context, fn func(tx store.Tx) error) error {
	if g.updates.Add(1) == 1 {
		close(g.entered)
		if err := <-g.gate; err != nil {
			return err
		}
	}
	return g.Store.Update(ctx, fn)
}

const cfgGroupCommit = `
route:
  receiver: pd
  group_by: [alertname, instance]
  group_wait: 0s
receivers: [{name: pd}]
`

// postConcurrently posts alert 0 first and, once its transaction is
// being written, alerts 1..n-1 at once; it returns each post's error once
// they are all queued behind the first and the gate got gateErr.
func postConcurrently(t *testing.T, h *harness, gs *gatedStore, n int, gateErr error) []error {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	post := func(i int) {
		defer wg.Done()
		now := h.clock.Now()
		errs[i] = h.e.PostAlerts(context.Background(), []store.Alert{{
			Labels: ls("alertname", "HostDown", "instance", fmt.Sprintf("h%d", i)), StartsAt: now, EndsAt: now.Add(time.Hour),
		}})
	}
	wg.Add(1)
	go post(0)
	<-gs.entered
	for i := 1; i < n; i++ {
		wg.Add(1)
		go post(i)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.e.commits.mu.Lock()
		queued := len(h.e.commits.pending)
		h.e.commits.mu.Unlock()
		if queued == n-1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d posts queued", queued, n-1)
		}
		time.Sleep(time.Millisecond)
	}
	gs.gate <- gateErr
	wg.Wait()
	return errs
}

// TestGroupCommit: posts that arrive while a transaction is being written
// share the next one, and each returns only once its own alerts are
// durable.
func TestGroupCommit(t *testing.T) {
	gs := &gatedStore{entered: make(chan struct{}), gate: make(chan error, 1)}
	h := newHarness(t, cfgGroupCommit, nil, func(o *Options) { gs.Store = o.Store; o.Store = gs })
	for i, err := range postConcurrently(t, h, gs, 8, nil) {
		if err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if n := gs.updates.Load(); n != 2 {
		t.Fatalf("%d transactions for 8 posts, want 2 (the first, then the 7 queued behind it together)", n)
	}
	if incs := h.incidents(); len(incs) != 8 {
		t.Fatalf("%d incidents stored, want 8", len(incs))
	}
	if n, err := h.e.DeliverDue(context.Background()); err != nil || n != 8 {
		t.Fatalf("delivered %d (%v), want 8 triggers", n, err)
	}
}

// TestGroupCommitFailure: when a transaction fails, its posts and every
// post queued behind it (built on its changes) fail, the state is rebuilt
// from the store, and the same alerts sent again are taken whole.
func TestGroupCommitFailure(t *testing.T) {
	gs := &gatedStore{entered: make(chan struct{}), gate: make(chan error, 1)}
	h := newHarness(t, cfgGroupCommit, nil, func(o *Options) { gs.Store = o.Store; o.Store = gs })
	for i, err := range postConcurrently(t, h, gs, 8, errDown) {
		if err == nil {
			t.Errorf("post %d succeeded although its transaction or the one before it failed", i)
		} else if !errors.Is(err, errDown) && !errors.Is(err, errReloaded) {
			t.Errorf("post %d: %v", i, err)
		}
	}
	if incs := h.incidents(); len(incs) != 0 {
		t.Fatalf("%d incidents stored by failed posts", len(incs))
	}
	if views := h.e.Alerts(); len(views) != 0 {
		t.Fatalf("memory kept %d alerts the store does not have", len(views))
	}
	for i := range 8 {
		h.post(ls("alertname", "HostDown", "instance", fmt.Sprintf("h%d", i)))
	}
	if incs := h.incidents(); len(incs) != 8 {
		t.Fatalf("after the re-send %d incidents, want 8", len(incs))
	}
	if n, err := h.e.DeliverDue(context.Background()); err != nil || n != 8 {
		t.Fatalf("delivered %d (%v), want 8 triggers", n, err)
	}
}

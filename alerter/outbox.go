package alerter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// limiterSet holds one token bucket per rate-limited receiver.
type limiterSet struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newLimiterSet(limits map[string]float64, old *limiterSet) *limiterSet {
	ls := &limiterSet{m: map[string]*rate.Limiter{}}
	for name, r := range limits {
		burst := int(r)
		if burst < 1 {
			burst = 1
		}
		if old != nil {
			if l := old.get(name); l != nil && float64(l.Limit()) == r {
				ls.m[name] = l
				continue
			}
		}
		ls.m[name] = rate.NewLimiter(rate.Limit(r), burst)
	}
	return ls
}

func (ls *limiterSet) get(name string) *rate.Limiter {
	if ls == nil {
		return nil
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.m[name]
}

// outboxPoll is how often the worker looks for due retries and expired
// leases when nothing woke it.
const outboxPoll = 500 * time.Millisecond

// runOutbox claims due notifications and delivers them until ctx ends.
// Every notification was committed with the change that caused it; the
// worker only sends, records the outcome and schedules retries.
func (e *Engine) runOutbox(ctx context.Context) {
	e.mu.Lock()
	workers := e.cfg.Outbox.Workers
	e.mu.Unlock()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(outboxPoll)
	defer t.Stop()
	for {
		for {
			n, err := e.deliverDue(ctx, sem, &wg)
			if err != nil && ctx.Err() == nil {
				e.log.Error("outbox claim failed", "err", err)
			}
			if n == 0 || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wakeOutbox:
		case <-t.C:
		}
	}
}

// DeliverDue claims and delivers the notifications due now, waiting for
// them to finish; it returns how many it handled. Tests and tools that do
// not call Run use it to drain the outbox.
func (e *Engine) DeliverDue(ctx context.Context) (int, error) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	total := 0
	for {
		n, err := e.deliverDue(ctx, sem, &wg)
		wg.Wait()
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func (e *Engine) deliverDue(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) (int, error) {
	e.mu.Lock()
	lease := time.Duration(e.cfg.Outbox.Lease)
	e.mu.Unlock()
	free := cap(sem) - len(sem)
	if free < 1 {
		free = 1
	}
	ns, err := e.st.ClaimNotifications(ctx, e.owner, e.now(), lease, free)
	if err != nil {
		return 0, err
	}
	for _, n := range ns {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return len(ns), ctx.Err()
		}
		wg.Add(1)
		go func(n store.Notification) {
			defer wg.Done()
			defer func() { <-sem }()
			e.deliver(ctx, n)
		}(n)
	}
	return len(ns), nil
}

// deliver sends one claimed notification and records the outcome.
func (e *Engine) deliver(ctx context.Context, n store.Notification) {
	e.mu.Lock()
	cfg := e.cfg.Outbox
	nf := e.notifier(n.Receiver)
	lim := e.limiters.get(n.Receiver)
	e.mu.Unlock()
	var m notify.Message
	retry, err := false, error(nil)
	if jerr := json.Unmarshal(n.Payload, &m); jerr != nil {
		err = fmt.Errorf("notification %d: payload: %w", n.ID, jerr)
	} else if nf == nil {
		err = fmt.Errorf("receiver %q has no notifier", n.Receiver)
	} else {
		if lim != nil {
			if werr := lim.Wait(ctx); werr != nil {
				return // shutting down: the lease runs out and it is sent later
			}
		}
		sctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Timeout))
		start := e.now()
		retry, err = nf.Notify(sctx, m)
		cancel()
		if ctx.Err() != nil && err != nil {
			return // shutting down mid-send: sent again after the lease
		}
		e.metrics.sendSeconds.WithLabelValues(n.Receiver).Observe(e.now().Sub(start).Seconds())
	}
	now := e.now()
	attempt := n.Attempts + 1
	var next time.Time
	result := "sent"
	ev := store.TimelineEvent{IncidentID: n.IncidentID, Time: now, Actor: "fleetwatch"}
	switch {
	case err == nil:
		ev.Kind = store.EventNotificationSent
		ev.Summary = fmt.Sprintf("%s sent to %s (attempt %d)", n.Action, n.Receiver, attempt)
		e.metrics.latency.WithLabelValues(n.Receiver).Observe(now.Sub(n.CreatedAt).Seconds())
	case retry && (cfg.MaxAttempts == 0 || attempt < cfg.MaxAttempts) && now.Sub(n.CreatedAt) < time.Duration(cfg.MaxAge):
		wait := backoff(attempt, time.Duration(cfg.MinBackoff), time.Duration(cfg.MaxBackoff))
		if ra := notify.RetryAfter(err); ra > wait {
			wait = ra // the receiving end (or its rate limit) said when
		}
		next = now.Add(wait)
		result = "retry"
		ev.Kind = store.EventNotificationFailed
		ev.Summary = fmt.Sprintf("%s to %s failed (attempt %d), retrying at %s: %v", n.Action, n.Receiver, attempt, next.UTC().Format(time.RFC3339), err)
	default:
		result = "failed"
		ev.Kind = store.EventNotificationFailed
		ev.Summary = fmt.Sprintf("%s to %s failed for good (attempt %d): %v", n.Action, n.Receiver, attempt, err)
	}
	e.metrics.notifications.WithLabelValues(n.Receiver, result).Inc()
	msg := ""
	if err != nil {
		msg = err.Error()
		e.log.Warn("notification failed", "receiver", n.Receiver, "incident", n.IncidentID, "attempt", attempt, "retry", !next.IsZero(), "err", msg)
	}
	data, _ := json.Marshal(map[string]any{"notification": n.ID, "action": n.Action, "receiver": n.Receiver, "attempt": attempt})
	ev.Data = data
	fctx := context.WithoutCancel(ctx)
	if ferr := e.st.FinishNotification(fctx, n.ID, now, msg, next); ferr != nil {
		e.log.Error("recording notification outcome", "notification", n.ID, "err", ferr)
		return
	}
	if aerr := e.st.Update(fctx, func(tx store.Tx) error {
		_, err := tx.AddEvent(fctx, ev)
		return err
	}); aerr != nil {
		e.log.Error("recording notification on the timeline", "notification", n.ID, "err", aerr)
	}
	if !next.IsZero() {
		time.AfterFunc(time.Until(next), func() { e.kick(e.wakeOutbox) })
	}
}

// backoff is exponential with full jitter between min and max.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	// Jitter in [d/2, d): spreads retries of many notifications.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// ErrNoIncident is returned for an incident that does not exist.
var ErrNoIncident = errors.New("no such incident")

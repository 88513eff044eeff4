package receivers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/pagerduty"
	"github.com/fleetwatch/fleetwatch/alerter/notify/slack"
	"github.com/fleetwatch/fleetwatch/alerter/notify/webhook"
)

// ErrUnknownReceiver is returned for a message to a receiver the registry
// does not hold.
var ErrUnknownReceiver = errors.New("unknown receiver")

// Part is one config of a receiver: "pagerduty_configs[0]" and its notifier.
type Part struct {
	Name     string
	Notifier notify.Notifier
}

// Registry holds the notifiers of one config's receivers.
type Registry struct {
	receivers map[string]*Fanout
}

var _ notify.Notifier = (*Registry)(nil)

// New validates rs and builds every receiver. Any bad receiver fails the
// whole build, naming it, so that a reload keeps the running config. The
// notify metrics are registered on reg (again on a reload: the series are
// shared); reg and logger may be nil.
func New(rs []Receiver, logger *slog.Logger, reg prometheus.Registerer) (*Registry, error) {
	if err := Validate(rs); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{receivers: make(map[string]*Fanout, len(rs))}
	for _, rc := range rs {
		log := logger.With("receiver", rc.Name)
		var parts []Part
		add := func(kind string, i int, n notify.Notifier, err error) error {
			if err != nil {
				return fmt.Errorf("receiver %q: %s[%d]: %w", rc.Name, kind, i, err)
			}
			parts = append(parts, Part{Name: kind + "[" + strconv.Itoa(i) + "]", Notifier: n})
			return nil
		}
		for i, c := range rc.PagerdutyConfigs {
			n, err := pagerduty.New(c, log, reg)
			if err := add("pagerduty_configs", i, n, err); err != nil {
				return nil, err
			}
		}
		for i, c := range rc.WebhookConfigs {
			n, err := webhook.New(c, log, reg)
			if err := add("webhook_configs", i, n, err); err != nil {
				return nil, err
			}
		}
		for i, c := range rc.SlackConfigs {
			n, err := slack.New(c, log, reg)
			if err := add("slack_configs", i, n, err); err != nil {
				return nil, err
			}
		}
		r.receivers[rc.Name] = NewFanout(rc.Name, parts)
	}
	return r, nil
}

// Notifier returns the named receiver's notifier.
func (r *Registry) Notifier(name string) (notify.Notifier, bool) {
	f, ok := r.receivers[name]
	if !ok {
		return nil, false
	}
	return f, true
}

// Parts returns the named receiver's configs, for a caller that wants one
// outbox entry per config instead of the fan-out.
func (r *Registry) Parts(name string) []Part {
	if f, ok := r.receivers[name]; ok {
		return slices.Clone(f.parts)
	}
	return nil
}

// Names returns the receivers' names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.receivers))
	for n := range r.receivers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Map returns name → notifier.
func (r *Registry) Map() map[string]notify.Notifier {
	out := make(map[string]notify.Notifier, len(r.receivers))
	for n, f := range r.receivers {
		out[n] = f
	}
	return out
}

// Notify sends m to the receiver m.Receiver names. An unknown receiver is
// a permanent failure (ErrUnknownReceiver): the config that queued the
// message no longer has it.
func (r *Registry) Notify(ctx context.Context, m notify.Message) (bool, error) {
	f, ok := r.receivers[m.Receiver]
	if !ok {
		return false, fmt.Errorf("receiver %q: %w", m.Receiver, ErrUnknownReceiver)
	}
	return f.Notify(ctx, m)
}

// memoSize bounds how many messages a fan-out remembers the finished parts
// of.
const memoSize = 4096

// Fanout sends a message to every part of a receiver.
type Fanout struct {
	name  string
	parts []Part

	mu    sync.Mutex
	done  map[string][]bool // message key → part finished (sent, or failed for good)
	order []string          // keys in insertion order, for eviction
}

var _ notify.Notifier = (*Fanout)(nil)

// NewFanout returns the notifier of receiver name over parts.
func NewFanout(name string, parts []Part) *Fanout {
	return &Fanout{name: name, parts: parts, done: map[string][]bool{}}
}

// Sends reports whether any part sends messages of action
// (notify.ActionFilter).
func (f *Fanout) Sends(action string) bool {
	for _, p := range f.parts {
		if notify.Sends(p.Notifier, action) {
			return true
		}
	}
	return false
}

// Notify sends m, with Receiver set to the fan-out's name, to every part
// not yet finished for this message, concurrently. It returns retry=true
// when at least one part failed and may succeed later, and the parts'
// errors joined (notify.RetryAfter gives the longest wait any part asked
// for). A part that failed for good is not retried with the others.
func (f *Fanout) Notify(ctx context.Context, m notify.Message) (bool, error) {
	m.Receiver = f.name
	switch len(f.parts) {
	case 0:
		return false, nil
	case 1:
		retry, err := f.parts[0].Notifier.Notify(ctx, m)
		if err != nil {
			return retry, fmt.Errorf("receiver %q: %s: %w", f.name, f.parts[0].Name, err)
		}
		return false, nil
	}
	key := memoKey(m)
	f.mu.Lock()
	done := slices.Clone(f.done[key])
	f.mu.Unlock()
	if done == nil {
		done = make([]bool, len(f.parts))
	}
	type result struct {
		retry bool
		err   error
	}
	results := make([]result, len(f.parts))
	var wg sync.WaitGroup
	for i, p := range f.parts {
		if done[i] {
			continue
		}
		wg.Go(func() {
			retry, err := p.Notifier.Notify(ctx, m)
			results[i] = result{retry, err}
		})
	}
	wg.Wait()
	var errs []error
	retry := false
	for i, res := range results {
		if done[i] {
			continue
		}
		if res.err == nil || !res.retry {
			done[i] = true
		}
		if res.err != nil {
			errs = append(errs, fmt.Errorf("receiver %q: %s: %w", f.name, f.parts[i].Name, res.err))
			retry = retry || res.retry
		}
	}
	f.remember(key, done, retry)
	if len(errs) == 0 {
		return false, nil
	}
	return retry, errors.Join(errs...)
}

// remember keeps which parts finished while a retry is due, and forgets
// the message once nothing is left to retry.
func (f *Fanout) remember(key string, done []bool, pending bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !pending {
		delete(f.done, key)
		return
	}
	if _, ok := f.done[key]; !ok {
		f.order = append(f.order, key)
	}
	f.done[key] = done
	for len(f.order) > memoSize {
		delete(f.done, f.order[0])
		f.order = f.order[1:]
	}
	if len(f.order) > 2*len(f.done)+memoSize/4 {
		f.order = slices.DeleteFunc(f.order, func(k string) bool { _, ok := f.done[k]; return !ok })
	}
}

// memoKey identifies one outbox message: the same incident, action and
// time are the same notification.
func memoKey(m notify.Message) string {
	return m.IncidentID + "\x00" + m.Action + "\x00" + m.Status + "\x00" + strconv.FormatInt(m.Timestamp.UnixNano(), 36) +
		"\x00" + strconv.Itoa(len(m.Alerts))
}

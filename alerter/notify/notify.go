package notify

import (
	"context"
	"errors"
	"time"
)

// Actions a message asks of the receiver.
const (
	ActionTrigger     = "trigger"     // open or update the incident
	ActionAcknowledge = "acknowledge" // someone is on it
	ActionResolve     = "resolve"     // it is over
	ActionChange      = "change"      // a change event (remediation run, config reload)
)

// Severities a message carries, from the most to the least urgent
// (PagerDuty's names).
const (
	SeverityCritical = "critical"
	SeverityError    = "error"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// SeverityRank orders severities: critical 4, error 3, warning 2, info 1,
// anything else 0.
func SeverityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 4
	case SeverityError:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

// Message is everything a receiver may say about one incident at one
// moment. It is built when the change is committed and stored in the
// outbox as JSON, so a retry after a restart sends the same message.
type Message struct {
	// IncidentID is stable for the incident's life: PagerDuty's dedup_key.
	IncidentID string `json:"incidentID"`
	Action     string `json:"action"`
	// Summary is the one line a pager shows ("[FIRING:3] NodeDown rack=r12 …").
	Summary  string `json:"summary"`
	Severity string `json:"severity"` // critical, error, warning, info
	// PreviousSeverity is the severity the receiver was last told when this
	// trigger raises it (an escalation), "" otherwise. A PagerDuty receiver
	// with repage_on_escalation pages again on it.
	PreviousSeverity string `json:"previousSeverity,omitempty"`
	// Source is the affected system (host, switch, BMC), Component the part
	// of it, Group the logical grouping (site/rack/service), Class the kind
	// of problem (the alertname) — PagerDuty's payload fields.
	Source    string `json:"source"`
	Component string `json:"component,omitempty"`
	Group     string `json:"group,omitempty"`
	Class     string `json:"class,omitempty"`
	// Cause is the probable common cause named by topology correlation.
	Cause string `json:"cause,omitempty"`
	// Status is "firing" or "resolved", as Alertmanager's webhook says.
	Status string `json:"status"`
	// Receiver is the name of the receiver in the config.
	Receiver string `json:"receiver"`
	// GroupKey, GroupLabels, CommonLabels and CommonAnnotations as
	// Alertmanager computes them for the incident's alerts.
	GroupKey          string            `json:"groupKey"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	Alerts            []Alert           `json:"alerts"`
	// TruncatedAlerts counts alerts left out of Alerts to bound the size.
	TruncatedAlerts int `json:"truncatedAlerts"`
	// Links: the incident in fleetwatch's UI, its graphs, runbooks.
	Links []Link `json:"links,omitempty"`
	// ExternalURL is fleetwatch's own base URL.
	ExternalURL string    `json:"externalURL"`
	Timestamp   time.Time `json:"timestamp"`
	// Details are extra key/values (custom_details in PagerDuty).
	Details map[string]string `json:"details,omitempty"`
}

// Alert is one alert in a message, in Alertmanager's webhook shape.
type Alert struct {
	Status       string            `json:"status"` // firing or resolved
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Link is a labelled URL.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// Notifier delivers messages to one receiver. Notify returns retry=true
// with a non-nil error when trying again later may succeed (timeouts, 429,
// 5xx), retry=false when it will not (400, a bad config). Errors must not
// contain secrets (routing keys, webhook URLs with tokens).
type Notifier interface {
	Notify(ctx context.Context, m Message) (retry bool, err error)
}

// ActionFilter is implemented by a notifier that sends messages of some
// actions only (a webhook has no change events): the engine queues a
// change event only for receivers that send it. A notifier without it is
// taken to send everything.
type ActionFilter interface {
	Sends(action string) bool
}

// Sends reports whether n sends messages of action (see ActionFilter).
func Sends(n Notifier, action string) bool {
	if f, ok := n.(ActionFilter); ok {
		return f.Sends(action)
	}
	return true
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, m Message) (bool, error)

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, m Message) (bool, error) { return f(ctx, m) }

// RetryAfterError is a failure for which the receiving end said when to try
// again (HTTP Retry-After on a 429 or 503), or for which the receiver's own
// rate limit says so. The outbox worker should not try before After has
// passed.
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying failure.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// WithRetryAfter wraps err with the wait the receiving end asked for. A nil
// err or a wait of 0 or less returns err unchanged.
func WithRetryAfter(err error, after time.Duration) error {
	if err == nil || after <= 0 {
		return err
	}
	return &RetryAfterError{After: after, Err: err}
}

// RetryAfter returns the wait carried by err (anywhere in its chain, so a
// fan-out joining several failures returns the longest), or 0 when the
// receiving end said nothing and the worker's own backoff applies.
func RetryAfter(err error) time.Duration {
	var longest time.Duration
	var walk func(error)
	walk = func(err error) {
		for err != nil {
			if ra, ok := err.(*RetryAfterError); ok && ra.After > longest {
				longest = ra.After
			}
			switch u := err.(type) {
			case interface{ Unwrap() []error }:
				for _, e := range u.Unwrap() {
					walk(e)
				}
				return
			default:
				err = errors.Unwrap(err)
			}
		}
	}
	walk(err)
	return longest
}

package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	pd "github.com/PagerDuty/go-pagerduty"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// Integration is the integration label of this receiver's metrics.
const Integration = "pagerduty"

// Limits PagerDuty documents for the Events API v2.
const (
	MaxSummary  = 1024 // bytes of payload.summary kept (PagerDuty: 1024 characters)
	MaxDedupKey = 255
)

// maxErrorBody bounds how much of an error answer is kept.
const maxErrorBody = 2048

// Notifier sends messages to one PagerDuty integration.
type Notifier struct {
	cfg     Config
	key     string
	base    string
	http    *http.Client
	limiter *rate.Limiter
	logger  *slog.Logger
	metrics *notify.Metrics
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates cfg, reads the routing key and returns the notifier. It
// registers (or reuses) the notify metrics on reg; reg and logger may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	key, err := cfg.secret().Read("routing_key_file", "routing_key_env")
	if err != nil {
		return nil, fmt.Errorf("pagerduty config: %w", err)
	}
	parts, err := notifyutil.NewParts(Integration, cfg.TLSConfig, logger, reg)
	if err != nil {
		return nil, err
	}
	n := &Notifier{
		cfg:     cfg,
		key:     key,
		base:    cfg.baseURL(),
		http:    parts.HTTP,
		logger:  parts.Logger,
		metrics: parts.Metrics,
	}
	if cfg.RateLimitPerMinute > 0 {
		// The whole minute's allowance may go in a burst, as PagerDuty's
		// per-minute window allows.
		n.limiter = rate.NewLimiter(rate.Limit(float64(cfg.RateLimitPerMinute)/60), cfg.RateLimitPerMinute)
	}
	return n, nil
}

// Notify sends m. See the package doc for what is retried.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (retry bool, err error) {
	if !n.Sends(m.Action) {
		n.metrics.Observe(m.Receiver, Integration, notify.ResultSkipped, 0)
		return false, nil
	}
	start := time.Now()
	retry, err = n.notify(ctx, m)
	n.metrics.Observe(m.Receiver, Integration, notify.Result(retry, err), time.Since(start))
	if err != nil {
		return retry, fmt.Errorf("pagerduty: %s incident %q: %w", m.Action, m.IncidentID, err)
	}
	n.logger.Debug("notification sent", "receiver", m.Receiver, "incident", m.IncidentID, "action", m.Action)
	return false, nil
}

// Sends reports whether the notifier sends messages of action (notify.ActionFilter).
func (n *Notifier) Sends(action string) bool {
	switch action {
	case notify.ActionResolve:
		return n.cfg.SendResolved
	case notify.ActionAcknowledge:
		return n.cfg.SendAcknowledged
	case notify.ActionChange:
		return n.cfg.SendChanges
	}
	return true
}

func (n *Notifier) notify(ctx context.Context, m notify.Message) (bool, error) {
	if m.Action == notify.ActionChange {
		ev := n.changeEvent(m)
		return n.send(ctx, 1, func(ctx context.Context, c *pd.Client) error {
			_, err := c.CreateChangeEventWithContext(ctx, ev)
			return err
		})
	}
	events, err := n.events(m)
	if err != nil {
		return false, err
	}
	return n.send(ctx, len(events), func(ctx context.Context, c *pd.Client) error {
		for _, ev := range events {
			if _, err := c.ManageEventWithContext(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
}

// send runs fn (which makes count requests) with a client that records
// PagerDuty's answer, after the rate limiter allows it, and classifies the
// outcome.
func (n *Notifier) send(ctx context.Context, count int, fn func(context.Context, *pd.Client) error) (bool, error) {
	if n.limiter != nil {
		r := n.limiter.ReserveN(time.Now(), count)
		if !r.OK() {
			return false, fmt.Errorf("%d requests exceed rate_limit_per_minute %d", count, n.cfg.RateLimitPerMinute)
		}
		if d := r.Delay(); d > 0 {
			r.Cancel()
			return true, notify.WithRetryAfter(fmt.Errorf("rate_limit_per_minute %d reached", n.cfg.RateLimitPerMinute), d)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	rec := &recorder{client: n.http}
	c := pd.NewClient("", pd.WithV2EventsAPIEndpoint(n.base))
	c.HTTPClient = rec
	err := fn(ctx, c)
	if err == nil {
		return false, nil
	}
	return n.classify(ctx, rec, err)
}

// classify turns go-pagerduty's error into retry and a message holding
// PagerDuty's own words, without the routing key.
func (n *Notifier) classify(ctx context.Context, rec *recorder, err error) (bool, error) {
	var apiErr pd.APIError
	switch {
	case errors.As(err, &apiErr):
		msg := fmt.Errorf("HTTP %d%s", apiErr.StatusCode, n.describe(rec.body))
		if apiErr.Temporary() {
			return true, notify.WithRetryAfter(msg, notifyutil.ParseRetryAfter(rec.retryAfter, time.Now()))
		}
		return false, msg
	case rec.status/100 == 2:
		// Accepted, but the answer did not decode: the event is queued.
		return false, nil
	case ctx.Err() != nil:
		return true, fmt.Errorf("request: %w", ctx.Err())
	case rec.err != nil:
		return true, notifyutil.NetworkError(rec.err, n.key)
	}
	return true, errors.New(notifyutil.Redact(err.Error(), n.key))
}

// describe renders PagerDuty's error answer ({status, message, errors}).
func (n *Notifier) describe(body []byte) string {
	var r pd.V2EventResponse
	if json.Unmarshal(body, &r) != nil || (r.Status == "" && r.Message == "" && len(r.Errors) == 0) {
		s := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
		if s == "" {
			return ""
		}
		return ": " + notifyutil.Redact(s, n.key)
	}
	parts := []string{}
	for _, p := range append([]string{r.Status, r.Message}, r.Errors...) {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return ": " + notifyutil.Redact(strings.Join(parts, ": "), n.key)
}

// recorder is the HTTP client go-pagerduty uses for one notification: it
// keeps the status, Retry-After and error body go-pagerduty's APIError
// does not expose.
type recorder struct {
	client     *http.Client
	status     int
	retryAfter string
	body       []byte
	err        error
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.client.Do(req)
	if err != nil {
		r.err = err
		// go-pagerduty quotes the error (and with it the URL) with %v;
		// return one without the URL.
		return nil, notifyutil.NetworkError(err)
	}
	r.status = resp.StatusCode
	r.retryAfter = resp.Header.Get("Retry-After")
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		r.body = b
		resp.Body = io.NopCloser(bytes.NewReader(b))
	}
	return resp, nil
}

// events builds the Events API v2 requests for m: one trigger, or the
// acknowledge/resolve for the incident's key (and its escalation keys with
// repage_on_escalation).
func (n *Notifier) events(m notify.Message) ([]*pd.V2Event, error) {
	if m.IncidentID == "" {
		return nil, errors.New("message has no incident id (the dedup_key)")
	}
	if len(m.IncidentID) > MaxDedupKey-len("/critical") {
		return nil, fmt.Errorf("incident id is %d bytes, PagerDuty's dedup_key takes %d", len(m.IncidentID), MaxDedupKey)
	}
	switch m.Action {
	case notify.ActionTrigger:
		ev := n.trigger(m)
		return []*pd.V2Event{ev}, nil
	case notify.ActionAcknowledge, notify.ActionResolve:
		keys := []string{m.IncidentID}
		if n.cfg.RepageOnEscalation {
			for _, s := range []string{notify.SeverityCritical, notify.SeverityError, notify.SeverityWarning} {
				keys = append(keys, escalationKey(m.IncidentID, s))
			}
		}
		out := make([]*pd.V2Event, len(keys))
		for i, k := range keys {
			out[i] = &pd.V2Event{RoutingKey: n.key, Action: m.Action, DedupKey: k}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown action %q", m.Action)
}

func escalationKey(id, severity string) string { return id + "/" + severity }

// Severity maps an incident's severity to PagerDuty's.
func (n *Notifier) Severity(s string) string {
	if to, ok := n.cfg.SeverityMap[s]; ok {
		return to
	}
	if notify.SeverityRank(s) > 0 {
		return s
	}
	return n.cfg.DefaultSeverity
}

func (n *Notifier) trigger(m notify.Message) *pd.V2Event {
	sev := n.Severity(m.Severity)
	key := m.IncidentID
	if n.cfg.RepageOnEscalation && m.PreviousSeverity != "" &&
		notify.SeverityRank(sev) > notify.SeverityRank(n.Severity(m.PreviousSeverity)) {
		key = escalationKey(m.IncidentID, sev)
	}
	source := m.Source
	if source == "" {
		source = "fleetwatch"
	}
	summary := m.Summary
	if summary == "" {
		summary = strings.TrimSpace(m.Class + " " + m.IncidentID)
	}
	p := &pd.V2Payload{
		Summary:   Truncate(summary, MaxSummary),
		Source:    source,
		Severity:  sev,
		Component: m.Component,
		Group:     m.Group,
		Class:     m.Class,
		Details:   n.details(m),
	}
	if !m.Timestamp.IsZero() {
		p.Timestamp = m.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	clientURL := n.cfg.ClientURL
	if clientURL == "" {
		clientURL = m.ExternalURL
	}
	return &pd.V2Event{
		RoutingKey: n.key,
		Action:     notify.ActionTrigger,
		DedupKey:   key,
		Client:     n.cfg.Client,
		ClientURL:  clientURL,
		Links:      links(m.Links),
		Payload:    p,
	}
}

func links(ls []notify.Link) []any {
	if len(ls) == 0 {
		return nil
	}
	out := make([]any, len(ls))
	for i, l := range ls {
		out[i] = map[string]string{"href": l.Href, "text": l.Text}
	}
	return out
}

// detailAlert is one alert as listed in custom_details.
type detailAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt,omitzero"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// details builds custom_details: the message's Details, then fleetwatch's
// own keys (which win on a clash).
func (n *Notifier) details(m notify.Message) map[string]any {
	d := make(map[string]any, len(m.Details)+10)
	for k, v := range m.Details {
		d[k] = v
	}
	firing := 0
	for _, a := range m.Alerts {
		if a.Status != "resolved" {
			firing++
		}
	}
	d["incident"] = m.IncidentID
	d["num_firing"] = firing
	d["num_resolved"] = len(m.Alerts) - firing
	if m.Cause != "" {
		d["cause"] = m.Cause
	}
	if len(m.GroupLabels) > 0 {
		d["group_labels"] = m.GroupLabels
	}
	if len(m.CommonLabels) > 0 {
		d["common_labels"] = m.CommonLabels
	}
	if len(m.CommonAnnotations) > 0 {
		d["common_annotations"] = m.CommonAnnotations
	}
	if len(m.Links) > 0 {
		d["links"] = m.Links
	}
	shown := min(len(m.Alerts), n.cfg.MaxAlerts)
	if shown > 0 {
		as := make([]detailAlert, shown)
		for i, a := range m.Alerts[:shown] {
			as[i] = detailAlert{a.Status, a.Labels, a.Annotations, a.StartsAt, a.EndsAt, a.GeneratorURL}
		}
		d["alerts"] = as
	}
	if t := m.TruncatedAlerts + len(m.Alerts) - shown; t > 0 {
		d["truncated_alerts"] = t
	}
	return d
}

// changeEvent builds the change event for m (a remediation run, a config
// reload).
func (n *Notifier) changeEvent(m notify.Message) pd.ChangeEvent {
	summary := m.Summary
	if summary == "" {
		summary = "fleetwatch change " + m.IncidentID
	}
	ev := pd.ChangeEvent{
		RoutingKey: n.key,
		Payload: pd.ChangeEventPayload{
			Summary: Truncate(summary, MaxSummary),
			Source:  m.Source,
		},
	}
	if !m.Timestamp.IsZero() {
		ev.Payload.Timestamp = m.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	cd := make(map[string]any, len(m.Details)+2)
	for k, v := range m.Details {
		cd[k] = v
	}
	if m.IncidentID != "" {
		cd["incident"] = m.IncidentID
	}
	if m.Cause != "" {
		cd["cause"] = m.Cause
	}
	if len(cd) > 0 {
		ev.Payload.CustomDetails = cd
	}
	for _, l := range m.Links {
		ev.Links = append(ev.Links, pd.ChangeEventLink{Href: l.Href, Text: l.Text})
	}
	return ev
}

// Truncate shortens s to at most max bytes, cutting at a character
// boundary and ending with "…" when it cut.
func Truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRightFunc(s[:cut], func(r rune) bool { return r == ' ' }) + ellipsis
}

package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// Integration is the integration label of this receiver's metrics.
const Integration = "webhook"

// Version is the webhook format version Alertmanager sends.
const Version = "4"

// Message is the body: Alertmanager's webhook message, version 4, with
// its fields in Alertmanager's order.
type Message struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []Alert           `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
}

// Alert is one alert of the body.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Notifier posts messages to one webhook endpoint.
type Notifier struct {
	cfg     Config
	url     string
	header  http.Header
	secrets []string
	http    *http.Client
	logger  *slog.Logger
	metrics *notify.Metrics
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates cfg, reads its files and returns the notifier. It registers
// (or reuses) the notify metrics on reg; reg and logger may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	target, err := cfg.target()
	if err != nil {
		return nil, fmt.Errorf("webhook config: %w", err)
	}
	header, err := cfg.header()
	if err != nil {
		return nil, fmt.Errorf("webhook config: %w", err)
	}
	header.Set("User-Agent", "fleetwatch")
	parts, err := notifyutil.NewParts(Integration, cfg.TLSConfig, logger, reg)
	if err != nil {
		return nil, err
	}
	secrets := notifyutil.URLSecrets(target)
	for k := range cfg.HeaderFiles {
		secrets = append(secrets, header.Get(k))
	}
	return &Notifier{cfg: cfg, url: target, header: header, secrets: secrets, http: parts.HTTP,
		logger: parts.Logger, metrics: parts.Metrics}, nil
}

// Notify posts m; acknowledgements and change events are skipped, and
// resolves unless send_resolved.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if !n.Sends(m.Action) {
		n.metrics.Observe(m.Receiver, Integration, notify.ResultSkipped, 0)
		return false, nil
	}
	start := time.Now()
	body, err := json.Marshal(Build(m, n.cfg.MaxAlerts))
	if err != nil {
		n.metrics.Observe(m.Receiver, Integration, notify.ResultFailed, time.Since(start))
		return false, fmt.Errorf("webhook: incident %q: %w", m.IncidentID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	retry, err := notifyutil.Post(ctx, n.http, n.url, body, n.header, n.secrets...)
	n.metrics.Observe(m.Receiver, Integration, notify.Result(retry, err), time.Since(start))
	if err != nil {
		return retry, fmt.Errorf("webhook: %s incident %q: %w", m.Action, m.IncidentID, err)
	}
	n.logger.Debug("notification sent", "receiver", m.Receiver, "incident", m.IncidentID, "action", m.Action)
	return false, nil
}

// Sends reports whether the notifier sends messages of action (notify.ActionFilter).
func (n *Notifier) Sends(action string) bool {
	switch action {
	case notify.ActionTrigger:
		return true
	case notify.ActionResolve:
		return n.cfg.SendResolved
	}
	return false
}

// Build returns the webhook body for m, keeping at most maxAlerts alerts
// (0 = all) and counting the others, and those m already left out, in
// truncatedAlerts. Absent maps are sent as {} and absent alerts as [], as
// Alertmanager does.
func Build(m notify.Message, maxAlerts int) Message {
	status := m.Status
	if status == "" {
		status = "firing"
		if m.Action == notify.ActionResolve {
			status = "resolved"
		}
	}
	alerts := m.Alerts
	truncated := uint64(max(m.TruncatedAlerts, 0))
	if maxAlerts > 0 && len(alerts) > maxAlerts {
		truncated += uint64(len(alerts) - maxAlerts)
		alerts = alerts[:maxAlerts]
	}
	out := Message{
		Receiver:          m.Receiver,
		Status:            status,
		Alerts:            make([]Alert, len(alerts)),
		GroupLabels:       nonNil(m.GroupLabels),
		CommonLabels:      nonNil(m.CommonLabels),
		CommonAnnotations: nonNil(m.CommonAnnotations),
		ExternalURL:       m.ExternalURL,
		Version:           Version,
		GroupKey:          m.GroupKey,
		TruncatedAlerts:   truncated,
	}
	for i, a := range alerts {
		out.Alerts[i] = Alert{
			Status:       a.Status,
			Labels:       nonNil(a.Labels),
			Annotations:  nonNil(a.Annotations),
			StartsAt:     a.StartsAt,
			EndsAt:       a.EndsAt,
			GeneratorURL: a.GeneratorURL,
			Fingerprint:  a.Fingerprint,
		}
	}
	return out
}

func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

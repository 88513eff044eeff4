package slack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
	"github.com/fleetwatch/fleetwatch/alerter/notify/internal/notifyutil"
)

// Integration is the integration label of this receiver's metrics.
const Integration = "slack"

// Payload is the incoming webhook body.
type Payload struct {
	Channel     string       `json:"channel,omitempty"`
	Username    string       `json:"username,omitempty"`
	IconEmoji   string       `json:"icon_emoji,omitempty"`
	IconURL     string       `json:"icon_url,omitempty"`
	Text        string       `json:"text"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment is the coloured block holding the incident.
type Attachment struct {
	Color     string   `json:"color"`
	Fallback  string   `json:"fallback"`
	Title     string   `json:"title"`
	TitleLink string   `json:"title_link,omitempty"`
	Text      string   `json:"text,omitempty"`
	Fields    []Field  `json:"fields,omitempty"`
	Footer    string   `json:"footer,omitempty"`
	Ts        int64    `json:"ts,omitempty"`
	MrkdwnIn  []string `json:"mrkdwn_in"`
}

// Field is one short key/value shown side by side.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Notifier posts messages to one Slack incoming webhook.
type Notifier struct {
	cfg     Config
	url     string
	secrets []string
	http    *http.Client
	logger  *slog.Logger
	metrics *notify.Metrics
}

var _ notify.Notifier = (*Notifier)(nil)

// New validates cfg, reads the URL and returns the notifier. It registers
// (or reuses) the notify metrics on reg; reg and logger may be nil.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	target, err := cfg.target()
	if err != nil {
		return nil, fmt.Errorf("slack config: %w", err)
	}
	parts, err := notifyutil.NewParts(Integration, cfg.TLSConfig, logger, reg)
	if err != nil {
		return nil, err
	}
	return &Notifier{cfg: cfg, url: target, secrets: notifyutil.URLSecrets(target), http: parts.HTTP,
		logger: parts.Logger, metrics: parts.Metrics}, nil
}

// Notify posts m. Change events are not posted; resolves and
// acknowledgements unless turned off.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) (bool, error) {
	if !n.Sends(m.Action) {
		n.metrics.Observe(m.Receiver, Integration, notify.ResultSkipped, 0)
		return false, nil
	}
	start := time.Now()
	p := Build(m, n.cfg.MaxAlerts)
	p.Channel, p.Username, p.IconEmoji, p.IconURL = n.cfg.Channel, n.cfg.Username, n.cfg.IconEmoji, n.cfg.IconURL
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(p)
	body := buf.Bytes()
	if err != nil {
		n.metrics.Observe(m.Receiver, Integration, notify.ResultFailed, time.Since(start))
		return false, fmt.Errorf("slack: incident %q: %w", m.IncidentID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	retry, err := notifyutil.Post(ctx, n.http, n.url, body, nil, n.secrets...)
	n.metrics.Observe(m.Receiver, Integration, notify.Result(retry, err), time.Since(start))
	if err != nil {
		return retry, fmt.Errorf("slack: %s incident %q: %w", m.Action, m.IncidentID, err)
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
	case notify.ActionAcknowledge:
		return n.cfg.SendAcknowledged
	}
	return false
}

// statePrefix is the "[FIRING:3] " a summary may already start with.
var statePrefix = regexp.MustCompile(`^\[[A-Z]+(:\d+)?\]\s*`)

// Build returns the Slack message for m, listing at most maxAlerts alerts
// (firing first).
func Build(m notify.Message, maxAlerts int) Payload {
	firing := 0
	for _, a := range m.Alerts {
		if a.Status != "resolved" {
			firing++
		}
	}
	state, color, count := "FIRING", "danger", firing
	switch m.Action {
	case notify.ActionAcknowledge:
		state, color = "ACKNOWLEDGED", "warning"
	case notify.ActionResolve:
		state, color, count = "RESOLVED", "good", len(m.Alerts)+m.TruncatedAlerts
	default:
		if m.Severity == notify.SeverityWarning || m.Severity == notify.SeverityInfo {
			color = "warning"
		}
	}
	what := statePrefix.ReplaceAllString(m.Summary, "")
	if what == "" {
		what = strings.TrimSpace(m.Class + " " + m.Source)
	}
	if what == "" {
		what = "incident " + m.IncidentID
	}
	title := fmt.Sprintf("[%s:%d] %s", state, count, what)

	var text strings.Builder
	if m.Cause != "" {
		fmt.Fprintf(&text, "*Probable cause:* %s\n", escape(m.Cause))
	}
	alerts := slices.Clone(m.Alerts)
	slices.SortStableFunc(alerts, func(a, b notify.Alert) int {
		return boolInt(a.Status == "resolved") - boolInt(b.Status == "resolved")
	})
	shown := min(len(alerts), maxAlerts)
	for _, a := range alerts[:shown] {
		text.WriteString("• " + alertLine(a) + "\n")
	}
	if more := len(alerts) - shown + m.TruncatedAlerts; more > 0 {
		fmt.Fprintf(&text, "_… and %d more_\n", more)
	}

	var fields []Field
	if m.Severity != "" {
		fields = append(fields, Field{"Severity", escape(m.Severity), true})
	}
	if m.Source != "" {
		fields = append(fields, Field{"Source", escape(m.Source), true})
	}
	link := ""
	for _, l := range m.Links {
		if link == "" {
			link = l.Href
		}
	}
	var linkText []string
	for _, l := range m.Links[min(1, len(m.Links)):] {
		linkText = append(linkText, fmt.Sprintf("<%s|%s>", l.Href, escape(l.Text)))
	}
	if len(linkText) > 0 {
		fields = append(fields, Field{"Links", strings.Join(linkText, " · "), false})
	}
	footer := "fleetwatch"
	if m.IncidentID != "" {
		footer += " incident " + m.IncidentID
	}
	var ts int64
	if !m.Timestamp.IsZero() {
		ts = m.Timestamp.Unix()
	}
	return Payload{
		Text: escape(title),
		Attachments: []Attachment{{
			Color:     color,
			Fallback:  escape(title),
			Title:     escape(title),
			TitleLink: link,
			Text:      strings.TrimSuffix(text.String(), "\n"),
			Fields:    fields,
			Footer:    footer,
			Ts:        ts,
			MrkdwnIn:  []string{"text", "fields"},
		}},
	}
}

// alertLine is "*host* alertname: summary (resolved)".
func alertLine(a notify.Alert) string {
	who := ""
	for _, k := range []string{"instance", "hostname", "host", "device", "job"} {
		if v := a.Labels[k]; v != "" {
			who = v
			break
		}
	}
	var b strings.Builder
	if who != "" {
		b.WriteString("*" + escape(who) + "* ")
	}
	b.WriteString(escape(a.Labels["alertname"]))
	if s := a.Annotations["summary"]; s != "" {
		b.WriteString(": " + escape(s))
	} else if s := a.Annotations["description"]; s != "" {
		b.WriteString(": " + escape(s))
	}
	if a.Status == "resolved" {
		b.WriteString(" _(resolved)_")
	}
	return b.String()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// escape applies Slack's escaping of &, < and > in message text.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

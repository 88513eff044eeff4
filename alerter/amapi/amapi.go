package amapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/common/model"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/internal/buildinfo"
)

// MaxBody bounds a request body (Prometheus sends at most a few MB).
const MaxBody = 32 << 20

// Options build an API.
type Options struct {
	Engine *alerter.Engine
	Logger *slog.Logger
	// Authorize, when set, checks a request; write says whether it
	// changes state (POST, DELETE). It returns the caller's name for the
	// timeline, or an error answered with 401/403 (see ErrUnauthorized,
	// ErrForbidden). nil: the API is open, as Alertmanager's is.
	Authorize func(r *http.Request, write bool) (string, error)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Errors Authorize returns.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// API serves the Alertmanager API v2 and the event intake.
type API struct {
	o        Options
	started  time.Time
	keys     keyer
	bodies   sync.Pool // *bytes.Buffer for request bodies
	scanners scanners
}

// New builds the API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &API{o: o, started: o.Now(), keys: newKeyer()}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v2/alerts", a.auth(true, a.postAlerts))
	mux.HandleFunc("GET /api/v2/alerts", a.auth(false, a.getAlerts))
	mux.HandleFunc("GET /api/v2/alerts/groups", a.auth(false, a.getGroups))
	mux.HandleFunc("GET /api/v2/silences", a.auth(false, a.getSilences))
	mux.HandleFunc("POST /api/v2/silences", a.auth(true, a.postSilence))
	mux.HandleFunc("GET /api/v2/silence/{id}", a.auth(false, a.getSilence))
	mux.HandleFunc("DELETE /api/v2/silence/{id}", a.auth(true, a.deleteSilence))
	mux.HandleFunc("GET /api/v2/status", a.auth(false, a.status))
	mux.HandleFunc("GET /api/v2/receivers", a.auth(false, a.receivers))
	mux.HandleFunc("POST /api/v1/events", a.auth(true, a.postEvents))
}

type ctxHandler func(w http.ResponseWriter, r *http.Request, who string)

func (a *API) auth(write bool, h ctxHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		who := "anonymous"
		if a.o.Authorize != nil {
			name, err := a.o.Authorize(r, write)
			switch {
			case errors.Is(err, ErrForbidden):
				apiError(w, http.StatusForbidden, "this token may not change state")
				return
			case err != nil:
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetwatch"`)
				apiError(w, http.StatusUnauthorized, "a valid bearer token is required")
				return
			}
			who = name
		}
		h(w, r, who)
	}
}

// apiError answers as Alertmanager does: {"code": N, "message": "..."}.
func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]any{"code": code, "message": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// PostableAlert is Alertmanager's postableAlert. Times are strings so a
// bad one is reported with its field.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// DecodeAlerts parses a POST /api/v2/alerts body. Errors name the alert's
// index and field (`alerts[3].labels.instance: …`); nothing is returned
// unless every alert is valid.
func DecodeAlerts(body []byte) ([]store.Alert, error) {
	sc := newScanner()
	if raws, ok := sc.scanAlerts(body, nil); ok {
		if out, err := sc.convertRaw(raws, nil); err != errNotPlain {
			return out, err
		}
	}
	return decodeGeneral(body)
}

// decodeGeneral is DecodeAlerts for any body. The strict decoder is
// faster; it refuses what encoding/json would take differently (names in
// another case, duplicate names, invalid UTF-8), and such bodies take
// encoding/json's path, so the result is always encoding/json's.
func decodeGeneral(body []byte) ([]store.Alert, error) {
	var in []PostableAlert
	if jsonv2.Unmarshal(body, &in, jsonv2.RejectUnknownMembers(true)) != nil {
		in = nil
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, locateJSONError(body, err)
		}
	}
	out := make([]store.Alert, 0, len(in))
	for i := range in {
		a, err := convertAlert(&in[i])
		if err != nil {
			return nil, alertError(i, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// alertError names alert i in err: alerts[3].labels: ….
func alertError(i int, err error) error {
	return fmt.Errorf("alerts[%d].%w", i, err)
}

// locateJSONError finds which alert of body fails to decode and how.
func locateJSONError(body []byte, err error) error {
	var raw []json.RawMessage
	if rerr := json.Unmarshal(body, &raw); rerr != nil {
		var se *json.SyntaxError
		if errors.As(rerr, &se) {
			return fmt.Errorf("body: invalid JSON at byte %d: %v", se.Offset, se)
		}
		var te *json.UnmarshalTypeError
		if errors.As(rerr, &te) {
			return fmt.Errorf("body: want a JSON array of alerts, got %s", te.Value)
		}
		return fmt.Errorf("body: %v", rerr)
	}
	for i, r := range raw {
		var a PostableAlert
		if aerr := json.Unmarshal(r, &a); aerr != nil {
			var te *json.UnmarshalTypeError
			if errors.As(aerr, &te) {
				return fmt.Errorf("alerts[%d].%s: want %s, got %s", i, te.Field, te.Type, te.Value)
			}
			return fmt.Errorf("alerts[%d]: %v", i, aerr)
		}
	}
	return fmt.Errorf("body: %v", err)
}

func convertAlert(p *PostableAlert) (store.Alert, error) {
	if len(p.Labels) == 0 {
		return store.Alert{}, errors.New("labels: is required and must not be empty")
	}
	valid := true
	for k, v := range p.Labels {
		if !model.LabelName(k).IsValidLegacy() || !utf8.ValidString(v) {
			valid = false
			break
		}
	}
	if !valid {
		// Name the first bad label in name order.
		names := make([]string, 0, len(p.Labels))
		for k := range p.Labels {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			if !model.LabelName(k).IsValidLegacy() {
				return store.Alert{}, fmt.Errorf("labels: %q is not a valid label name", k)
			}
			if !utf8.ValidString(p.Labels[k]) {
				return store.Alert{}, fmt.Errorf("labels.%s: value is not valid UTF-8", k)
			}
		}
	}
	for k, v := range p.Labels {
		if v == "" {
			delete(p.Labels, k) // as Alertmanager: an empty value is no label
		}
	}
	if err := checkAnnotations(p.Annotations); err != nil {
		return store.Alert{}, err
	}
	a := store.Alert{Labels: p.Labels, Annotations: p.Annotations, GeneratorURL: p.GeneratorURL}
	if a.Annotations == nil {
		a.Annotations = map[string]string{}
	}
	if err := parseTimes(&a, p.StartsAt, p.EndsAt); err != nil {
		return store.Alert{}, err
	}
	return a, nil
}

func checkAnnotations(ann map[string]string) error {
	for k := range ann {
		if !model.LabelName(k).IsValidLegacy() {
			return fmt.Errorf("annotations: %q is not a valid annotation name", k)
		}
	}
	return nil
}

// parseTimes sets a's StartsAt and EndsAt from their RFC 3339 strings
// ("" leaves one zero).
func parseTimes(a *store.Alert, startsAt, endsAt string) error {
	var err error
	if startsAt != "" {
		if a.StartsAt, err = time.Parse(time.RFC3339Nano, startsAt); err != nil {
			return fmt.Errorf("startsAt: %q is not an RFC 3339 time", startsAt)
		}
	}
	if endsAt != "" {
		if a.EndsAt, err = time.Parse(time.RFC3339Nano, endsAt); err != nil {
			return fmt.Errorf("endsAt: %q is not an RFC 3339 time", endsAt)
		}
	}
	if !a.StartsAt.IsZero() && !a.EndsAt.IsZero() && a.EndsAt.Before(a.StartsAt) {
		return fmt.Errorf("endsAt: %s is before startsAt %s", endsAt, startsAt)
	}
	return nil
}

// readBody reads at most limit bytes of the request body, answering 413
// when it is larger and 400 when it is not valid UTF-8 (JSON decoding would
// silently turn bad bytes into U+FFFD and store that).
func readBody(w http.ResponseWriter, r *http.Request, limit int) ([]byte, bool) {
	return readBodyInto(w, r, limit, nil)
}

// pooledBody is the largest body read into a pooled buffer: alert batches
// are far smaller, and a buffer that grew for a huge body is not kept.
const pooledBody = 4 << 20

// readBodyInto is readBody reading into buf (reset first) when the
// request says its length and it is at most pooledBody; other bodies are
// read into memory of their own, grown as they arrive (io.ReadAll), so a
// huge or unannounced body costs no more than its size.
func readBodyInto(w http.ResponseWriter, r *http.Request, limit int, buf *bytes.Buffer) ([]byte, bool) {
	var body []byte
	var err error
	if n := r.ContentLength; buf != nil && n > 0 && n <= pooledBody {
		buf.Reset()
		buf.Grow(int(n) + bytes.MinRead)
		_, err = buf.ReadFrom(io.LimitReader(r.Body, int64(limit)+1))
		body = buf.Bytes()
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, int64(limit)+1))
	}
	switch {
	case err != nil:
		apiError(w, http.StatusBadRequest, "reading body: "+err.Error())
	case len(body) > limit:
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", limit))
	case !utf8.Valid(body):
		apiError(w, http.StatusBadRequest, "body: not valid UTF-8")
	default:
		return body, true
	}
	return nil, false
}

func (a *API) postAlerts(w http.ResponseWriter, r *http.Request, _ string) {
	buf, _ := a.bodies.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer a.putBody(buf)
	body, ok := readBodyInto(w, r, MaxBody, buf)
	if !ok {
		return
	}
	sc := a.scanners.get()
	defer a.scanners.put(sc) // after the engine took the alerts
	alerts, keys, err := a.decodeKeyed(sc, body)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.o.Engine.PostAlertsKeyed(r.Context(), alerts, keys); err != nil {
		a.o.Logger.Error("alerts not stored", "alerts", len(alerts), "err", err)
		apiError(w, http.StatusInternalServerError, "alerts not stored, send them again: "+err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// putBody returns a body buffer to the pool unless it grew past what
// alert batches need (a one-off huge body is not kept).
func (a *API) putBody(buf *bytes.Buffer) {
	if buf.Cap() <= pooledBody+bytes.MinRead {
		a.bodies.Put(buf)
	}
}

// decodeKeyed is DecodeAlerts for the engine: alerts it already holds
// (known by their raw keys) are not decoded again. keys is nil when the
// body took the general path. The slices returned are sc's: valid until
// sc goes back to the pool.
func (a *API) decodeKeyed(sc *scanner, body []byte) ([]store.Alert, []alerter.RawKey, error) {
	raws, ok := sc.scanAlerts(body, sc.raws[:0])
	sc.raws = raws
	if !ok {
		alerts, err := decodeGeneral(body)
		return alerts, nil, err
	}
	keys := slices.Grow(sc.keys[:0], len(raws))[:len(raws)]
	for i := range raws {
		keys[i] = a.keys.key(&raws[i])
	}
	sc.keys = keys
	known := slices.Grow(sc.known[:0], len(raws))[:len(raws)]
	clear(known)
	sc.known = known
	a.o.Engine.LookupRaw(keys, known)
	alerts, err := sc.convertRaw(raws, known)
	if err == errNotPlain {
		alerts, err = decodeGeneral(body)
		return alerts, nil, err
	}
	return alerts, keys, err
}

// Receiver is {"name": …}.
type Receiver struct {
	Name string `json:"name"`
}

// AlertStatus is gettableAlert.status.
type AlertStatus struct {
	InhibitedBy []string `json:"inhibitedBy"`
	SilencedBy  []string `json:"silencedBy"`
	MutedBy     []string `json:"mutedBy"`
	State       string   `json:"state"`
}

// GettableAlert is Alertmanager's gettableAlert.
type GettableAlert struct {
	Annotations  map[string]string `json:"annotations"`
	EndsAt       time.Time         `json:"endsAt"`
	Fingerprint  string            `json:"fingerprint"`
	Receivers    []Receiver        `json:"receivers"`
	StartsAt     time.Time         `json:"startsAt"`
	Status       AlertStatus       `json:"status"`
	UpdatedAt    time.Time         `json:"updatedAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
	Labels       map[string]string `json:"labels"`
	// IncidentID is fleetwatch's own addition.
	IncidentID string `json:"incidentID,omitempty"`
}

// AlertGroup is Alertmanager's alertGroup.
type AlertGroup struct {
	Alerts   []GettableAlert   `json:"alerts"`
	Labels   map[string]string `json:"labels"`
	Receiver Receiver          `json:"receiver"`
	// IncidentID is fleetwatch's own addition.
	IncidentID string `json:"incidentID,omitempty"`
}

func gettable(v alerter.AlertView) GettableAlert {
	g := GettableAlert{
		Annotations: v.Alert.Annotations, EndsAt: v.Alert.EndsAt, Fingerprint: v.Alert.Fingerprint,
		StartsAt: v.Alert.StartsAt, UpdatedAt: v.Alert.UpdatedAt, GeneratorURL: v.Alert.GeneratorURL,
		Labels: v.Alert.Labels, IncidentID: v.Alert.IncidentID,
		Status: AlertStatus{InhibitedBy: v.InhibitedBy, SilencedBy: v.SilencedBy, MutedBy: []string{}, State: v.State},
	}
	if g.Annotations == nil {
		g.Annotations = map[string]string{}
	}
	if g.UpdatedAt.IsZero() {
		g.UpdatedAt = g.StartsAt
	}
	g.Receivers = make([]Receiver, len(v.Receivers))
	for i, r := range v.Receivers {
		g.Receivers[i] = Receiver{Name: r}
	}
	return g
}

// alertFilter is the query of GET /api/v2/alerts and /alerts/groups.
type alertFilter struct {
	matchers                                 []*amlabels.Matcher
	receiver                                 *regexp.Regexp
	active, silenced, inhibited, unprocessed bool
}

func parseAlertFilter(r *http.Request) (*alertFilter, error) {
	q := r.URL.Query()
	f := &alertFilter{active: true, silenced: true, inhibited: true, unprocessed: true}
	for _, p := range []struct {
		name string
		dst  *bool
	}{{"active", &f.active}, {"silenced", &f.silenced}, {"inhibited", &f.inhibited}, {"unprocessed", &f.unprocessed}} {
		if v := q.Get(p.name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %q is not true or false", p.name, v)
			}
			*p.dst = b
		}
	}
	for _, s := range q["filter"] {
		ms, err := amlabels.ParseMatchers(s)
		if err != nil {
			return nil, fmt.Errorf("filter: %q: %v", s, err)
		}
		f.matchers = append(f.matchers, ms...)
	}
	if v := q.Get("receiver"); v != "" {
		re, err := regexp.Compile("^(?:" + v + ")$")
		if err != nil {
			return nil, fmt.Errorf("receiver: %q: %v", v, err)
		}
		f.receiver = re
	}
	return f, nil
}

func (f *alertFilter) keep(v alerter.AlertView) bool {
	for _, m := range f.matchers {
		if !m.Matches(v.Alert.Labels[m.Name]) {
			return false
		}
	}
	if f.receiver != nil && !slices.ContainsFunc(v.Receivers, f.receiver.MatchString) {
		return false
	}
	silenced := len(v.SilencedBy) > 0
	inhibited := len(v.InhibitedBy) > 0
	if !f.silenced && silenced || !f.inhibited && inhibited {
		return false
	}
	if !f.active && v.State == "active" {
		return false
	}
	return true
}

func (a *API) getAlerts(w http.ResponseWriter, r *http.Request, _ string) {
	f, err := parseAlertFilter(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []GettableAlert{}
	for _, v := range a.o.Engine.Alerts() {
		if f.keep(v) {
			out = append(out, gettable(v))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) getGroups(w http.ResponseWriter, r *http.Request, _ string) {
	f, err := parseAlertFilter(r)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	out := []AlertGroup{}
	for _, g := range a.o.Engine.Groups() {
		ag := AlertGroup{Labels: g.Labels, Receiver: Receiver{Name: g.Receiver}, IncidentID: g.Incident}
		for _, v := range g.Alerts {
			if f.keep(v) {
				ag.Alerts = append(ag.Alerts, gettable(v))
			}
		}
		if len(ag.Alerts) > 0 {
			out = append(out, ag)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) receivers(w http.ResponseWriter, _ *http.Request, _ string) {
	out := []Receiver{}
	for _, n := range a.o.Engine.Config().ReceiverNames() {
		out = append(out, Receiver{Name: n})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *API) status(w http.ResponseWriter, _ *http.Request, _ string) {
	bi := buildinfo.Get()
	writeJSON(w, http.StatusOK, map[string]any{
		"cluster": map[string]any{"name": "", "status": "disabled", "peers": []any{}},
		"versionInfo": map[string]string{
			"branch": bi.Branch, "buildDate": bi.BuildDate, "buildUser": bi.BuildUser,
			"goVersion": bi.GoVersion, "revision": bi.Revision, "version": bi.Version,
		},
		"config": map[string]string{"original": redactedConfig(a.o.Engine.Config())},
		"uptime": a.started.UTC().Format(time.RFC3339Nano),
	})
}

// redactedConfig renders the config with receivers reduced to their names,
// so no receiver setting (a URL with a token) leaves fleetwatch.
func redactedConfig(c *alerter.Config) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# fleetwatch alerter configuration; receiver settings are not shown\n")
	fmt.Fprintf(&b, "resolve_timeout: %s\nreceivers:\n", c.ResolveTimeout)
	for _, n := range c.ReceiverNames() {
		fmt.Fprintf(&b, "  - name: %q\n", n)
	}
	return b.String()
}

// Event is the body of POST /api/v1/events (one object or an array).
type Event = events.Event

func (a *API) postEvents(w http.ResponseWriter, r *http.Request, who string) {
	body, ok := readBody(w, r, MaxBody)
	if !ok {
		return
	}
	evs, err := DecodeEvents(body)
	if err != nil {
		apiError(w, http.StatusBadRequest, err.Error())
		return
	}
	// The whole batch is checked first: a refused batch stores nothing.
	for i, ev := range evs {
		if err := alerter.ValidateEvent(ev); err != nil {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("events[%d]: %v", i, err))
			return
		}
	}
	var errs []string
	for i, ev := range evs {
		if ev.Source == "" {
			ev.Source = events.SourceAPI
		}
		if err := a.o.Engine.HandleEvent(r.Context(), ev); err != nil {
			if errors.Is(err, alerter.ErrStandby) {
				// Nothing of this batch after it is taken: the sender
				// sends the rest to the active instance.
				w.Header().Set("Retry-After", "1")
				apiError(w, http.StatusServiceUnavailable, fmt.Sprintf("events[%d] and after not taken: %v", i, err))
				return
			}
			errs = append(errs, fmt.Sprintf("events[%d]: %v", i, err))
		}
	}
	if len(errs) > 0 {
		apiError(w, http.StatusBadRequest, strings.Join(errs, "; "))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"accepted": len(evs)})
}

// DecodeEvents parses POST /api/v1/events: one event object or an array.
// Errors name the event's index and field.
func DecodeEvents(body []byte) ([]events.Event, error) {
	body = bytes.TrimSpace(body)
	var evs []events.Event
	if len(body) > 0 && body[0] == '{' {
		var ev events.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			return nil, fmt.Errorf("event: %v", err)
		}
		evs = []events.Event{ev}
	} else if err := json.Unmarshal(body, &evs); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("events.%s: want %s, got %s", te.Field, te.Type, te.Value)
		}
		return nil, fmt.Errorf("body: %v", err)
	}
	for i, ev := range evs {
		switch {
		case ev.Kind == "":
			return nil, fmt.Errorf("events[%d].kind: is required", i)
		case len(ev.Labels) == 0:
			return nil, fmt.Errorf("events[%d].labels: is required (name the device)", i)
		}
		for k := range ev.Labels {
			if !model.LabelName(k).IsValidLegacy() {
				return nil, fmt.Errorf("events[%d].labels: %q is not a valid label name", i, k)
			}
		}
		switch ev.Severity {
		case "", events.Critical, events.Warning, events.Info:
		default:
			return nil, fmt.Errorf("events[%d].severity: %q is not critical, warning or info", i, ev.Severity)
		}
	}
	return evs, nil
}

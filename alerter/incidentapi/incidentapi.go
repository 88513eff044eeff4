package incidentapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/alerter"
	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Scopes a token may have.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// Token is one entry of the tokens file.
type Token struct {
	Name  string `yaml:"name"`
	Scope string `yaml:"scope"`
	// Token is the bearer token itself, or TokenSHA256 the hex SHA-256 of
	// it (so the file need not hold the secret); exactly one.
	Token       string `yaml:"token,omitempty"`
	TokenSHA256 string `yaml:"token_sha256,omitempty"`

	sum [32]byte
}

// Tokens checks bearer tokens.
type Tokens struct {
	list []Token
}

// LoadTokens reads a tokens file: `tokens: [{name, scope, token |
// token_sha256}]`. Errors name the file, the entry and the field, never a
// token.
func LoadTokens(path string) (*Tokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseTokens(path, data)
}

// ParseTokens is LoadTokens on data read from file.
func ParseTokens(file string, data []byte) (*Tokens, error) {
	var doc struct {
		Tokens []Token `yaml:"tokens"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	names := map[string]bool{}
	for i := range doc.Tokens {
		t := &doc.Tokens[i]
		f := fmt.Sprintf("%s: tokens[%d]", file, i)
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("%s.name: missing", f)
		case names[t.Name]:
			return nil, fmt.Errorf("%s.name: %q defined twice", f, t.Name)
		case t.Scope != ScopeRead && t.Scope != ScopeWrite:
			return nil, fmt.Errorf("%s.scope: %q is not read or write", f, t.Scope)
		case (t.Token == "") == (t.TokenSHA256 == ""):
			return nil, fmt.Errorf("%s: set exactly one of token and token_sha256", f)
		}
		names[t.Name] = true
		if t.Token != "" {
			if len(t.Token) < 16 {
				return nil, fmt.Errorf("%s.token: shorter than 16 characters", f)
			}
			t.sum = sha256.Sum256([]byte(t.Token))
			t.Token = ""
		} else {
			b, err := hex.DecodeString(t.TokenSHA256)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("%s.token_sha256: not 64 hex digits", f)
			}
			copy(t.sum[:], b)
		}
	}
	return &Tokens{list: doc.Tokens}, nil
}

// Errors of Check.
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Check returns the name of the token in r's Authorization header;
// ErrUnauthorized if there is none or it is unknown, ErrForbidden if a
// read token asks to write.
func (ts *Tokens) Check(r *http.Request, write bool) (string, error) {
	h := r.Header.Get("Authorization")
	raw, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || raw == "" {
		return "", ErrUnauthorized
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(raw)))
	for _, t := range ts.list {
		if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 {
			if write && t.Scope != ScopeWrite {
				return t.Name, ErrForbidden
			}
			return t.Name, nil
		}
	}
	return "", ErrUnauthorized
}

// Engine is what the API needs of the alerter.
type Engine interface {
	Acknowledge(ctx context.Context, id, actor string) (store.Incident, error)
	Resolve(ctx context.Context, id, actor, reason string) (store.Incident, error)
	AddNote(ctx context.Context, id, actor, text string) (store.TimelineEvent, error)
	ApproveRemediation(ctx context.Context, id string, run int64, actor string) error
	IncidentAlerts(id string) []store.Alert
}

var _ Engine = (*alerter.Engine)(nil)

// Options build the API.
type Options struct {
	Engine Engine
	Reader store.Reader
	// Tokens authenticates requests; nil leaves the API open (only for
	// tests and single-user setups on loopback).
	Tokens *Tokens
	Logger *slog.Logger
}

// API serves the incidents API.
type API struct{ o Options }

// New builds the API.
func New(o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &API{o: o}
}

// Register adds the routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/incidents", a.auth(false, a.list))
	mux.HandleFunc("GET /api/v1/incidents/{id}", a.auth(false, a.get))
	mux.HandleFunc("POST /api/v1/incidents/{id}/ack", a.auth(true, a.ack))
	mux.HandleFunc("POST /api/v1/incidents/{id}/resolve", a.auth(true, a.resolve))
	mux.HandleFunc("POST /api/v1/incidents/{id}/notes", a.auth(true, a.note))
	mux.HandleFunc("POST /api/v1/incidents/{id}/remediations/{run}/approve", a.auth(true, a.approve))
}

type handler func(w http.ResponseWriter, r *http.Request, actor string)

func (a *API) auth(write bool, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		actor := "api:anonymous"
		if a.o.Tokens != nil {
			name, err := a.o.Tokens.Check(r, write)
			switch {
			case errors.Is(err, ErrForbidden):
				a.o.Logger.Warn("write refused to a read-only token", "token", name, "path", r.URL.Path)
				fail(w, http.StatusForbidden, "token "+name+" is read-only")
				return
			case err != nil:
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetwatch"`)
				fail(w, http.StatusUnauthorized, "a valid bearer token is required")
				return
			}
			actor = "api:" + name
		}
		h(w, r, actor)
	}
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error string `json:"error"`
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, ErrorBody{Error: msg})
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// ListResponse is GET /api/v1/incidents.
type ListResponse struct {
	Incidents []store.Incident `json:"incidents"`
}

// Detail is GET /api/v1/incidents/{id}.
type Detail struct {
	Incident     store.Incident         `json:"incident"`
	Alerts       []store.Alert          `json:"alerts"`
	Timeline     []store.TimelineEvent  `json:"timeline"`
	Remediations []store.RemediationRun `json:"remediations"`
}

// ParseFilter reads the list query: state (repeatable or comma-separated),
// severity, site, rack, receiver, since (RFC 3339 or a duration back from
// now such as 24h), limit.
func ParseFilter(q map[string][]string, now time.Time) (store.IncidentFilter, error) {
	f := store.IncidentFilter{Labels: map[string]string{}, Limit: 100}
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	for _, v := range q["state"] {
		for _, s := range strings.Split(v, ",") {
			switch st := store.IncidentState(strings.TrimSpace(s)); st {
			case store.Triggered, store.Acknowledged, store.Resolved:
				f.States = append(f.States, st)
			case "open":
				f.States = append(f.States, store.Triggered, store.Acknowledged)
			default:
				return f, fmt.Errorf("state: %q is not triggered, acknowledged, resolved or open", s)
			}
		}
	}
	for _, k := range []string{"site", "rack"} {
		if v := get(k); v != "" {
			f.Labels[k] = v
		}
	}
	f.Receiver = get("receiver")
	if v := get("since"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			f.Since = now.Add(-d)
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("since: %q is neither RFC 3339 nor a duration", v)
		}
	}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return f, fmt.Errorf("limit: %q is not a number from 1 to 10000", v)
		}
		f.Limit = n
	}
	return f, nil
}

func (a *API) list(w http.ResponseWriter, r *http.Request, _ string) {
	f, err := ParseFilter(r.URL.Query(), time.Now())
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	sev := r.URL.Query().Get("severity")
	limit := f.Limit
	if sev != "" {
		f.Limit = 0 // severity is filtered here, after the store
	}
	incs, err := a.o.Reader.ListIncidents(r.Context(), f)
	if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]store.Incident, 0, len(incs))
	for _, inc := range incs {
		if sev == "" || inc.Severity == sev {
			out = append(out, inc)
		}
		if len(out) == limit {
			break
		}
	}
	reply(w, http.StatusOK, ListResponse{Incidents: out})
}

func (a *API) get(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("id")
	ctx := r.Context()
	inc, err := a.o.Reader.GetIncident(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		fail(w, http.StatusNotFound, fmt.Sprintf("incident %q not found", id))
		return
	} else if err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	d := Detail{Incident: inc}
	d.Alerts = a.o.Engine.IncidentAlerts(id)
	if d.Alerts == nil {
		if d.Alerts, err = a.o.Reader.ListAlerts(ctx, store.AlertFilter{IncidentID: id}); err != nil {
			fail(w, http.StatusInternalServerError, err.Error())
			return
		}
	}
	if d.Timeline, err = a.o.Reader.ListEvents(ctx, store.EventFilter{IncidentID: id}); err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	if d.Remediations, err = a.o.Reader.ListRemediationRuns(ctx, store.RemediationFilter{IncidentID: id}); err != nil {
		fail(w, http.StatusInternalServerError, err.Error())
		return
	}
	for _, s := range []*[]store.Alert{&d.Alerts} {
		if *s == nil {
			*s = []store.Alert{}
		}
	}
	if d.Timeline == nil {
		d.Timeline = []store.TimelineEvent{}
	}
	if d.Remediations == nil {
		d.Remediations = []store.RemediationRun{}
	}
	reply(w, http.StatusOK, d)
}

func (a *API) change(w http.ResponseWriter, inc store.Incident, err error) {
	switch {
	case errors.Is(err, alerter.ErrNoIncident), errors.Is(err, store.ErrNotFound):
		fail(w, http.StatusNotFound, err.Error())
	case errors.Is(err, alerter.ErrBadState):
		fail(w, http.StatusConflict, err.Error())
	case errors.Is(err, alerter.ErrStandby):
		w.Header().Set("Retry-After", "1")
		fail(w, http.StatusServiceUnavailable, err.Error())
	case err != nil:
		fail(w, http.StatusInternalServerError, err.Error())
	default:
		reply(w, http.StatusOK, inc)
	}
}

func (a *API) ack(w http.ResponseWriter, r *http.Request, actor string) {
	inc, err := a.o.Engine.Acknowledge(r.Context(), r.PathValue("id"), actor)
	a.change(w, inc, err)
}

// ResolveRequest is the optional body of POST …/resolve.
type ResolveRequest struct {
	Reason string `json:"reason"`
}

// NoteRequest is the body of POST …/notes.
type NoteRequest struct {
	Text string `json:"text"`
}

func (a *API) resolve(w http.ResponseWriter, r *http.Request, actor string) {
	var req ResolveRequest
	if err := decodeBody(r, &req, false); err != nil {
		fail(w, bodyStatus(err), err.Error())
		return
	}
	inc, err := a.o.Engine.Resolve(r.Context(), r.PathValue("id"), actor, req.Reason)
	a.change(w, inc, err)
}

func (a *API) note(w http.ResponseWriter, r *http.Request, actor string) {
	var req NoteRequest
	if err := decodeBody(r, &req, true); err != nil {
		fail(w, bodyStatus(err), err.Error())
		return
	}
	if strings.TrimSpace(req.Text) == "" {
		fail(w, http.StatusBadRequest, "text: is required")
		return
	}
	ev, err := a.o.Engine.AddNote(r.Context(), r.PathValue("id"), actor, req.Text)
	if err != nil {
		a.change(w, store.Incident{}, err)
		return
	}
	reply(w, http.StatusCreated, ev)
}

func (a *API) approve(w http.ResponseWriter, r *http.Request, actor string) {
	run, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil {
		fail(w, http.StatusBadRequest, fmt.Sprintf("run: %q is not a run number", r.PathValue("run")))
		return
	}
	if err := a.o.Engine.ApproveRemediation(r.Context(), r.PathValue("id"), run, actor); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			fail(w, http.StatusNotFound, err.Error())
			return
		}
		fail(w, http.StatusConflict, err.Error())
		return
	}
	reply(w, http.StatusOK, map[string]any{"approved": run, "by": actor})
}

func decodeBody(r *http.Request, v any, required bool) error {
	const limit = 1 << 20
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		return fmt.Errorf("body: %v", err)
	case len(b) > limit:
		return fmt.Errorf("%w: larger than %d bytes", errTooLarge, limit)
	case !utf8.Valid(b):
		return errors.New("body: not valid UTF-8")
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		if required {
			return errors.New("body: is required")
		}
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("body: %v", err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		return errors.New("body: more than one JSON value")
	}
	return nil
}

// errTooLarge marks a body over the limit: answered 413.
var errTooLarge = errors.New("body too large")

// bodyStatus is the status for a decodeBody error.
func bodyStatus(err error) int {
	if errors.Is(err, errTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// Actions changes incident and silence state on behalf of a user. The
// alerter's engine implements it; every call records the actor on the
// incident's timeline. Errors wrapping store.ErrNotFound become 404 pages,
// store.ErrConflict 409, ErrInvalid 400; anything else 500.
type Actions interface {
	Ack(ctx context.Context, incidentID, actor string) error
	Resolve(ctx context.Context, incidentID, actor string) error
	AddNote(ctx context.Context, incidentID, actor, text string) error
	// ApproveRemediation lets run of incident go ahead; RejectRemediation
	// stops it with reason.
	ApproveRemediation(ctx context.Context, incidentID string, run int64, actor string) error
	RejectRemediation(ctx context.Context, incidentID string, run int64, actor, reason string) error
	// CreateSilence stores s (ID empty: a new one) created by actor and
	// returns its ID. ExpireSilence ends silence id now.
	CreateSilence(ctx context.Context, s store.Silence, actor string) (string, error)
	ExpireSilence(ctx context.Context, id, actor string) error
}

// ErrInvalid marks an Actions error caused by the request (shown as 400).
var ErrInvalid = errors.New("invalid request")

// TargetStatus is the health of one collection target, as the scheduler
// reports it.
type TargetStatus struct {
	Job            string
	Address        string
	Labels         map[string]string
	Health         string // "up", "down" or "unknown"
	LastError      string
	LastCollection time.Time
	LastDuration   time.Duration
	Interval       time.Duration
}

// TargetLister returns the status of every target (the wiring fills it
// from the collector scheduler).
type TargetLister interface {
	Targets() []TargetStatus
}

// TargetListerFunc adapts a function to TargetLister.
type TargetListerFunc func() []TargetStatus

// Targets calls f.
func (f TargetListerFunc) Targets() []TargetStatus { return f() }

// Options build a UI. Store is required; every other part may be nil, and
// the pages that need it say it is not configured.
type Options struct {
	Store   store.Reader
	Actions Actions
	// Inventory returns the current fleet.
	Inventory func() *inventory.Inventory
	// Querier runs PromQL (EngineQuerier adapts the embedded engine).
	Querier Querier
	Targets TargetLister
	// Auth checks bearer tokens; nil means no authentication (everyone
	// may act, as user "anonymous").
	Auth Authenticator
	// PostmortemURL returns the link to an incident's postmortem draft in
	// the given format ("html", "md", "json"); nil links to the API's
	// /api/v1/incidents/{id}/postmortem?format=….
	PostmortemURL func(incidentID, format string) string
	// RefreshInterval is the incidents list's auto-refresh (default 15 s).
	RefreshInterval time.Duration
	Logger          *slog.Logger
	Registerer      prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// UI serves the on-call pages.
type UI struct {
	o       Options
	log     *slog.Logger
	now     func() time.Time
	pages   map[string]*template.Template
	static  http.Handler
	csrf    *csrfKey
	cop     *http.CrossOriginProtection
	metrics *metrics
}

// New builds the UI. It does no I/O beyond parsing its embedded templates.
func New(o Options) (*UI, error) {
	if o.Store == nil {
		return nil, errors.New("web: Options.Store is nil")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 15 * time.Second
	}
	if o.PostmortemURL == nil {
		o.PostmortemURL = func(id, format string) string {
			return "/api/v1/incidents/" + id + "/postmortem?format=" + format
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	key, err := newCSRFKey()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	staticFS, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, fmt.Errorf("web: static assets: %w", err)
	}
	return &UI{
		o: o, log: o.Logger, now: o.Now, pages: pages,
		static:  http.StripPrefix("/static/", http.FileServerFS(staticFS)),
		csrf:    key,
		cop:     http.NewCrossOriginProtection(),
		metrics: m,
	}, nil
}

// Register mounts the UI's pages on mux: GET / (redirects to /incidents),
// /incidents, /incidents/{id}, /silences, /fleet, /targets, /login,
// /static/…, and the POST actions under them.
func (u *UI) Register(mux *http.ServeMux) {
	get := func(pattern, page string, h func(http.ResponseWriter, *http.Request, principal)) {
		mux.Handle("GET "+pattern, u.instrument(page, u.authed(h)))
	}
	post := func(pattern, page string, h func(http.ResponseWriter, *http.Request, principal)) {
		mux.Handle("POST "+pattern, u.instrument(page, u.cop.Handler(u.authed(u.writer(h)))))
	}
	mux.Handle("GET /{$}", u.instrument("root", http.RedirectHandler("/incidents", http.StatusFound)))
	mux.Handle("GET /static/", u.instrument("static", u.staticHandler()))
	mux.Handle("GET /login", u.instrument("login", http.HandlerFunc(u.loginPage)))
	mux.Handle("POST /login", u.instrument("login", u.cop.Handler(http.HandlerFunc(u.login))))
	mux.Handle("POST /logout", u.instrument("logout", u.cop.Handler(http.HandlerFunc(u.logout))))

	get("/incidents", "incidents", u.incidentsPage)
	get("/incidents/{id}", "incident", u.incidentPage)
	post("/incidents/{id}/ack", "action", u.ackAction)
	post("/incidents/{id}/resolve", "action", u.resolveAction)
	post("/incidents/{id}/note", "action", u.noteAction)
	post("/incidents/{id}/silence", "action", u.incidentSilenceAction)
	post("/incidents/{id}/remediations/{run}/approve", "action", u.approveAction)
	post("/incidents/{id}/remediations/{run}/reject", "action", u.rejectAction)
	get("/silences", "silences", u.silencesPage)
	post("/silences", "action", u.createSilenceAction)
	post("/silences/{sid}/expire", "action", u.expireSilenceAction)
	get("/fleet", "fleet", u.fleetPage)
	get("/targets", "targets", u.targetsPage)
}

// Handler returns a mux with only the UI on it (tests, or mounting under
// a prefix with http.StripPrefix is not supported: links are absolute).
func (u *UI) Handler() http.Handler {
	mux := http.NewServeMux()
	u.Register(mux)
	return mux
}

// staticHandler serves the embedded assets. A path that is not valid
// UTF-8 (an overlong "%c0%ae" for ".") or not a valid fs path gets 404
// before the file server sees it, which would answer 500.
func (u *UI) staticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/static/"), "/")
		if !utf8.ValidString(r.URL.Path) || (name != "" && !fs.ValidPath(name)) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=300")
		u.static.ServeHTTP(w, r)
	})
}

package pdtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Event is one request the server received and accepted or refused.
type Event struct {
	// Path is /v2/enqueue or /v2/change/enqueue.
	Path string
	// Body is the request body as sent.
	Body []byte
	// Status is the HTTP status the server answered.
	Status int
	// Decoded fields of an alert event.
	RoutingKey string
	Action     string
	DedupKey   string
	Payload    map[string]any
	Links      []any
	Client     string
	ClientURL  string
	Received   time.Time
}

// Alert is the state PagerDuty would keep for one dedup_key.
type Alert struct {
	DedupKey string
	// State is triggered, acknowledged or resolved.
	State string
	// Triggers counts trigger events, Pages the triggers that opened the
	// alert (from nothing or from resolved): what pages a person.
	Triggers int
	Pages    int
	Severity string
	Summary  string
}

type failure struct {
	status     int
	retryAfter string
}

// Server is the fake endpoint. Its URL is the base URL a pagerduty config
// takes (URL + "/v2/enqueue" is the alert endpoint).
type Server struct {
	URL string

	mu       sync.Mutex
	srv      *httptest.Server
	events   []Event
	alerts   map[string]*Alert
	failures []failure
	notify   chan struct{}
	seq      int
	// stall is how many of the next requests are held; held counts the
	// requests waiting now; release is closed by Release.
	stall   int
	held    int
	release chan struct{}
}

// NewServer starts the endpoint on 127.0.0.1; it stops when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{alerts: map[string]*Alert{}, notify: make(chan struct{}), release: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/enqueue", s.enqueue)
	mux.HandleFunc("POST /v2/change/enqueue", s.change)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// EnqueueURL is the alert endpoint as Alertmanager's url key spells it.
func (s *Server) EnqueueURL() string { return s.URL + "/v2/enqueue" }

// FailNext makes the next n requests fail with status (429, 500, 400, …),
// sending Retry-After: retryAfter when it is not empty. Calls queue up.
func (s *Server) FailNext(n, status int, retryAfter string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.failures = append(s.failures, failure{status, retryAfter})
	}
}

// Stall holds the next n requests (a PagerDuty that accepted the
// connection and does not answer): each waits until Release is called,
// then is handled as usual, or is dropped unrecorded when its sender
// goes away (times out, or the process is killed) first. Calls add up.
func (s *Server) Stall(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall += n
}

// Release lets every held request (and those held later by an earlier
// Stall) through.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stall = 0
	close(s.release)
	s.release = make(chan struct{})
}

// Held is the number of requests waiting now.
func (s *Server) Held() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held
}

// WaitHeld waits until at least n requests are held, or ctx ends.
func (s *Server) WaitHeld(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ch, held := s.notify, s.held
		s.mu.Unlock()
		if held >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("pdtest: %d of %d requests held: %w", held, n, ctx.Err())
		}
	}
}

// hold blocks a request while a Stall applies to it; it reports false
// when the sender went away meanwhile (the request is then dropped).
func (s *Server) hold(r *http.Request) bool {
	s.mu.Lock()
	if s.stall == 0 {
		s.mu.Unlock()
		return true
	}
	s.stall--
	s.held++
	rel := s.release
	s.wake()
	s.mu.Unlock()
	ok := true
	select {
	case <-rel:
	case <-r.Context().Done():
		ok = false
	}
	s.mu.Lock()
	s.held--
	s.wake()
	s.mu.Unlock()
	return ok
}

// wake tells waiters something changed. s.mu must be held.
func (s *Server) wake() {
	close(s.notify)
	s.notify = make(chan struct{})
}

// Events returns every request received so far, refused ones included.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Accepted returns the requests answered 202, in order.
func (s *Server) Accepted() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Event
	for _, e := range s.events {
		if e.Status == http.StatusAccepted {
			out = append(out, e)
		}
	}
	return out
}

// Alert returns the state of dedupKey's alert.
func (s *Server) Alert(dedupKey string) (Alert, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alerts[dedupKey]
	if !ok {
		return Alert{}, false
	}
	return *a, true
}

// Pages counts the pages sent so far over all alerts.
func (s *Server) Pages() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.alerts {
		n += a.Pages
	}
	return n
}

// WaitAccepted waits until at least n requests have been accepted and
// returns them, or returns an error when ctx ends first.
func (s *Server) WaitAccepted(ctx context.Context, n int) ([]Event, error) {
	for {
		s.mu.Lock()
		ch := s.notify
		s.mu.Unlock()
		if got := s.Accepted(); len(got) >= n {
			return got, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.Accepted(), fmt.Errorf("pdtest: %d of %d events accepted: %w", len(s.Accepted()), n, ctx.Err())
		}
	}
}

// record appends e and wakes waiters. s.mu must be held.
func (s *Server) record(e Event) {
	s.events = append(s.events, e)
	s.wake()
}

// nextFailure pops a queued failure. s.mu must be held.
func (s *Server) nextFailure() (failure, bool) {
	if len(s.failures) == 0 {
		return failure{}, false
	}
	f := s.failures[0]
	s.failures = s.failures[1:]
	return f, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func invalid(w http.ResponseWriter, errs []string) {
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"status": "invalid event", "message": "Event object is invalid", "errors": errs,
	})
}

// fail answers a queued failure as PagerDuty would.
func fail(w http.ResponseWriter, f failure) {
	if f.retryAfter != "" {
		w.Header().Set("Retry-After", f.retryAfter)
	}
	switch {
	case f.status == http.StatusTooManyRequests:
		writeJSON(w, f.status, map[string]any{"status": "throttle event",
			"message": "Requests for this service are arriving too quickly.  Please retry later."})
	case f.status == http.StatusBadRequest:
		invalid(w, []string{"injected failure"})
	default:
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(f.status)
		_, _ = io.WriteString(w, http.StatusText(f.status))
	}
}

func (s *Server) read(w http.ResponseWriter, r *http.Request) ([]byte, map[string]any, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		invalid(w, []string{"reading body: " + err.Error()})
		return body, nil, false
	}
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"status": "invalid event",
			"message": "Event object is invalid", "errors": []string{"'body' is not valid JSON"}})
		return body, nil, false
	}
	return body, raw, true
}

var severities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

func (s *Server) enqueue(w http.ResponseWriter, r *http.Request) {
	body, raw, ok := s.read(w, r)
	if !s.hold(r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := Event{Path: r.URL.Path, Body: body, Received: time.Now()}
	if f, failed := s.nextFailure(); failed {
		e.Status = f.status
		s.record(e)
		fail(w, f)
		return
	}
	if !ok {
		e.Status = http.StatusBadRequest
		s.record(e)
		return
	}
	e.RoutingKey, _ = raw["routing_key"].(string)
	e.Action, _ = raw["event_action"].(string)
	e.DedupKey, _ = raw["dedup_key"].(string)
	e.Payload, _ = raw["payload"].(map[string]any)
	e.Links, _ = raw["links"].([]any)
	e.Client, _ = raw["client"].(string)
	e.ClientURL, _ = raw["client_url"].(string)

	var errs []string
	if len(e.RoutingKey) != 32 {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	switch e.Action {
	case "trigger":
		if e.Payload == nil {
			errs = append(errs, "'payload' is missing or blank")
			break
		}
		summary, _ := e.Payload["summary"].(string)
		source, _ := e.Payload["source"].(string)
		severity, _ := e.Payload["severity"].(string)
		if summary == "" {
			errs = append(errs, "'payload.summary' is missing or blank")
		} else if len([]rune(summary)) > 1024 {
			errs = append(errs, "'payload.summary' is too long (maximum is 1024 characters)")
		}
		if source == "" {
			errs = append(errs, "'payload.source' is missing or blank")
		}
		if !severities[severity] {
			errs = append(errs, "'payload.severity' is invalid (must be one of the following: 'critical', 'warning', 'error' or 'info')")
		}
	case "acknowledge", "resolve":
		if e.DedupKey == "" {
			errs = append(errs, "'dedup_key' is missing or blank")
		}
	default:
		errs = append(errs, "'event_action' is invalid (must be one of the following: 'trigger', 'acknowledge' or 'resolve')")
	}
	if len(e.DedupKey) > 255 {
		errs = append(errs, "'dedup_key' is too long (maximum is 255 characters)")
	}
	if len(errs) > 0 {
		e.Status = http.StatusBadRequest
		s.record(e)
		invalid(w, errs)
		return
	}
	if e.DedupKey == "" {
		s.seq++
		e.DedupKey = "pdtest-" + strconv.Itoa(s.seq)
	}
	s.apply(e)
	e.Status = http.StatusAccepted
	s.record(e)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Event processed", "dedup_key": e.DedupKey})
}

// apply updates the alert state as PagerDuty does: a trigger opens a
// resolved or unknown alert (a page) or updates an open one (no page);
// acknowledge and resolve change an open alert and are ignored otherwise.
// s.mu must be held.
func (s *Server) apply(e Event) {
	a := s.alerts[e.DedupKey]
	switch e.Action {
	case "trigger":
		if a == nil {
			a = &Alert{DedupKey: e.DedupKey}
			s.alerts[e.DedupKey] = a
		}
		a.Triggers++
		if a.State == "" || a.State == "resolved" {
			a.State = "triggered"
			a.Pages++
		}
		a.Severity, _ = e.Payload["severity"].(string)
		a.Summary, _ = e.Payload["summary"].(string)
	case "acknowledge":
		if a != nil && a.State == "triggered" {
			a.State = "acknowledged"
		}
	case "resolve":
		if a != nil && a.State != "resolved" {
			a.State = "resolved"
		}
	}
}

func (s *Server) change(w http.ResponseWriter, r *http.Request) {
	body, raw, ok := s.read(w, r)
	if !s.hold(r) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := Event{Path: r.URL.Path, Body: body, Received: time.Now(), Action: "change"}
	if f, failed := s.nextFailure(); failed {
		e.Status = f.status
		s.record(e)
		fail(w, f)
		return
	}
	if !ok {
		e.Status = http.StatusBadRequest
		s.record(e)
		return
	}
	e.RoutingKey, _ = raw["routing_key"].(string)
	e.Payload, _ = raw["payload"].(map[string]any)
	e.Links, _ = raw["links"].([]any)
	var errs []string
	if len(e.RoutingKey) != 32 {
		errs = append(errs, "Length of 'routing_key' is incorrect (should be 32 characters)")
	}
	summary, _ := e.Payload["summary"].(string)
	if summary == "" {
		errs = append(errs, "'payload.summary' is missing or blank")
	} else if len([]rune(summary)) > 1024 {
		errs = append(errs, "'payload.summary' is too long (maximum is 1024 characters)")
	}
	if len(errs) > 0 {
		e.Status = http.StatusBadRequest
		s.record(e)
		invalid(w, errs)
		return
	}
	e.Status = http.StatusAccepted
	s.record(e)
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "success", "message": "Change event processed"})
}

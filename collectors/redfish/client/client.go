package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Auth modes.
const (
	AuthSession = "session" // SessionService only: fail when no session can be made
	AuthBasic   = "basic"   // HTTP basic authentication on every request
	AuthAuto    = "auto"    // a session, falling back to basic when the BMC cannot give one
)

// ServiceRootPath is where every Redfish service starts.
const ServiceRootPath = "/redfish/v1"

// Options configure a Client. BaseURL is required; the rest have defaults.
type Options struct {
	// BaseURL is scheme://host[:port] of the BMC, e.g. https://10.1.2.3.
	BaseURL string
	// Username and Password authenticate. Password is called when a login
	// (or basic authentication) needs it, so a rotated password file is
	// picked up; its value is never logged or put into errors.
	Username string
	Password func() (string, error)
	// Auth is AuthSession, AuthBasic or AuthAuto (default).
	Auth string
	// TLS configures https; nil uses the system roots.
	TLS *tls.Config
	// Transport replaces the HTTP transport (tests, in-process fleets). When
	// set, TLS and MaxConcurrent's connection limit do not apply to it.
	Transport http.RoundTripper
	// RequestTimeout bounds one attempt of one request. Default 10s.
	RequestTimeout time.Duration
	// MaxConcurrent bounds this BMC's requests in flight. Default 4.
	MaxConcurrent int
	// Global, when set, bounds requests over every Client sharing it.
	Global *Limiter
	// Retries is how many times an idempotent request is tried again after a
	// network error or a 429/5xx answer. Default 2; -1 means none.
	Retries int
	// RetryBackoff is the first wait between tries, doubled each time with
	// jitter. Default 200ms.
	RetryBackoff time.Duration
	// MaxBodyBytes is the largest body read. Default 32 MiB.
	MaxBodyBytes int64
	// MaxRedirects is the number of redirects followed. Default 5.
	MaxRedirects int
	// SessionRetryAfter is how long an AuthAuto client stays on basic
	// authentication after a failed login before it tries a session again.
	// Default 10m.
	SessionRetryAfter time.Duration
	// Observe, when set, is called after every HTTP exchange with the
	// method, the status (0 for a transport error) and the duration.
	Observe func(method string, status int, d time.Duration)
	// OnLogin, when set, is called with "session", "basic_fallback",
	// "relogin", "logout" or "login_failed".
	OnLogin func(event string)
}

// Client talks to one BMC. It is safe for concurrent use.
type Client struct {
	opts    Options
	base    *url.URL
	hc      *http.Client
	tr      *http.Transport // nil when Options.Transport was given
	limiter *Limiter

	requests atomic.Int64

	mu           sync.Mutex
	token        string // X-Auth-Token of the current session
	sessionURI   string
	sessionsPath string
	basicUntil   time.Time // AuthAuto: use basic auth until then
	loginErr     error
}

// New builds a Client. It does no I/O.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		return nil, errors.New("client: empty base URL")
	}
	base, err := ParseBase(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Auth == "" {
		opts.Auth = AuthAuto
	}
	switch opts.Auth {
	case AuthSession, AuthBasic, AuthAuto:
	default:
		return nil, fmt.Errorf("client: auth %q: want session, basic or auto", opts.Auth)
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 10 * time.Second
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = 4
	}
	if opts.Retries == 0 {
		opts.Retries = 2
	} else if opts.Retries < 0 {
		opts.Retries = 0
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = 200 * time.Millisecond
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.MaxRedirects <= 0 {
		opts.MaxRedirects = 5
	}
	if opts.SessionRetryAfter <= 0 {
		opts.SessionRetryAfter = 10 * time.Minute
	}
	c := &Client{opts: opts, base: base, limiter: NewLimiter(opts.MaxConcurrent), sessionsPath: ServiceRootPath + "/SessionService/Sessions"}
	rt := opts.Transport
	if rt == nil {
		c.tr = &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: opts.RequestTimeout, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     opts.TLS,
			TLSHandshakeTimeout: opts.RequestTimeout,
			MaxConnsPerHost:     opts.MaxConcurrent,
			MaxIdleConnsPerHost: opts.MaxConcurrent,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  false,
		}
		rt = c.tr
	}
	max := opts.MaxRedirects
	c.hc = &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > max {
				return fmt.Errorf("stopped after %d redirects", max)
			}
			return nil
		},
	}
	return c, nil
}

// ParseBase turns "host:port", "host" or "scheme://host[:port][/]" into the
// base URL of a BMC. A bare host gets https.
func ParseBase(s string) (*url.URL, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("BMC address %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("BMC address %q: scheme %q: want http or https", s, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("BMC address %q: no host", s)
	}
	u.Path, u.RawQuery, u.Fragment = "", "", ""
	return u, nil
}

// Base returns the BMC's base URL.
func (c *Client) Base() string { return c.base.String() }

// Requests returns the number of HTTP requests sent so far (every attempt,
// logins and logouts included).
func (c *Client) Requests() int64 { return c.requests.Load() }

// AuthMode says how the next request authenticates: "session" or "basic".
func (c *Client) AuthMode() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.useBasicLocked() {
		return AuthBasic
	}
	return AuthSession
}

// SetSessionsPath sets where sessions are created (the service root's
// Links.Sessions); the default is /redfish/v1/SessionService/Sessions.
func (c *Client) SetSessionsPath(p string) {
	if p == "" {
		return
	}
	c.mu.Lock()
	c.sessionsPath = p
	c.mu.Unlock()
}

// CloseIdle closes this BMC's idle connections, so a BMC with few HTTP
// slots is not held between polls.
func (c *Client) CloseIdle() {
	if c.tr != nil {
		c.tr.CloseIdleConnections()
	}
}

func (c *Client) useBasicLocked() bool {
	switch c.opts.Auth {
	case AuthBasic:
		return true
	case AuthSession:
		return false
	}
	return time.Now().Before(c.basicUntil)
}

// Response is a finished exchange.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Get fetches path (a path, a path with a query, or an absolute URL on the
// same BMC) and returns the body of a 2xx answer.
func (c *Client) Get(ctx context.Context, path string) ([]byte, error) {
	resp, err := c.Do(ctx, http.MethodGet, path, nil, nil)
	if err != nil {
		return nil, err
	}
	if errorOnlyBody(resp.Body) {
		e := &HTTPError{Method: http.MethodGet, Path: path, Status: resp.Status}
		describeBody(e, resp.Body)
		return nil, e
	}
	return resp.Body, nil
}

// GetJSON fetches path and decodes its JSON body into v.
func (c *Client) GetJSON(ctx context.Context, path string, v any) error {
	body, err := c.Get(ctx, path)
	if err != nil {
		return err
	}
	return DecodeJSON(http.MethodGet, path, body, v)
}

// DecodeJSON decodes body into v, naming method and path in the error and
// telling an HTML page or a truncated body apart.
func DecodeJSON(method, path string, body []byte, v any) error {
	t := bytes.TrimSpace(body)
	if isHTML(t) {
		e := &HTTPError{Method: method, Path: path, Status: 200}
		describeBody(e, t)
		return fmt.Errorf("%w: %s: an HTML page", ErrNotJSON, e.Error())
	}
	if err := json.Unmarshal(t, v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || len(t) == 0 {
			return fmt.Errorf("%w: %s %s: %v (%d bytes)", ErrNotJSON, method, path, err, len(t))
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	return nil
}

// Post sends a JSON body with POST and returns the answer; a non-2xx answer
// is an *HTTPError. POST is never retried.
func (c *Client) Post(ctx context.Context, path string, body any) (*Response, error) {
	return c.Do(ctx, http.MethodPost, path, body, nil)
}

// Patch sends a JSON body with PATCH; etag, when not empty, goes in If-Match.
func (c *Client) Patch(ctx context.Context, path string, body any, etag string) (*Response, error) {
	var h http.Header
	if etag != "" {
		h = http.Header{"If-Match": []string{etag}}
	}
	return c.Do(ctx, http.MethodPatch, path, body, h)
}

// Do sends one request with authentication, limits, retries (for GET, HEAD
// and DELETE) and one new login after a 401 on a session.
func (c *Client) Do(ctx context.Context, method, path string, body any, header http.Header) (*Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
		}
	}
	target, err := c.resolve(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	idempotent := method == http.MethodGet || method == http.MethodHead || method == http.MethodDelete
	relogged := false
	for attempt := 0; ; attempt++ {
		auth, token, err := c.credentials(ctx, target)
		if err != nil {
			return nil, err
		}
		resp, err := c.exchange(ctx, method, target, path, payload, header, auth)
		if err == nil && resp.Status == http.StatusUnauthorized && token != "" && !relogged {
			// The session expired or was deleted on the BMC: log in again once.
			relogged = true
			c.dropSession(token)
			c.event("relogin")
			attempt--
			continue
		}
		if err == nil && resp.Status >= 200 && resp.Status < 300 {
			return resp, nil
		}
		var herr *HTTPError
		if err == nil {
			herr = &HTTPError{Method: method, Path: path, Status: resp.Status}
			describeBody(herr, resp.Body)
			err = herr
		}
		retry := idempotent && attempt < c.opts.Retries && ctx.Err() == nil
		if herr != nil {
			retry = retry && herr.Retryable()
		} else if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			retry = false
		}
		if !retry {
			return nil, err
		}
		wait := c.opts.RetryBackoff << attempt
		wait += time.Duration(rand.Int64N(int64(wait)/2 + 1))
		if resp != nil {
			if s, e := strconv.Atoi(resp.Header.Get("Retry-After")); e == nil && s > 0 && time.Duration(s)*time.Second < 5*time.Second {
				wait = time.Duration(s) * time.Second
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last try: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

func (c *Client) resolve(path string) (*url.URL, error) {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		u, err := url.Parse(path)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(u.Host, c.base.Host) {
			return nil, fmt.Errorf("link to another host %q", u.Host)
		}
		path = u.RequestURI()
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if i := strings.IndexByte(path, '#'); i >= 0 {
		path = path[:i]
	}
	u := *c.base
	p, q, _ := strings.Cut(path, "?")
	u.Path = p
	u.RawQuery = q
	return &u, nil
}

// exchange performs one HTTP attempt.
func (c *Client) exchange(ctx context.Context, method string, target *url.URL, path string, payload []byte, header http.Header, auth func(*http.Request)) (*Response, error) {
	if err := c.opts.Global.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("%s %s: waiting for a request slot: %w", method, path, err)
	}
	defer c.opts.Global.Release()
	if err := c.limiter.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("%s %s: waiting for a request slot: %w", method, path, err)
	}
	defer c.limiter.Release()
	rctx, cancel := context.WithTimeout(ctx, c.opts.RequestTimeout)
	defer cancel()
	var rb io.Reader
	if payload != nil {
		rb = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(rctx, method, target.String(), rb)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("OData-Version", "4.0")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if auth != nil {
		auth(req)
	}
	c.requests.Add(1)
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.observe(method, 0, start)
		if rctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%s %s: no answer within %v", method, path, c.opts.RequestTimeout)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, scrub(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	c.observe(method, resp.StatusCode, start)
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("%s %s: body not finished within %v", method, path, c.opts.RequestTimeout)
		}
		return nil, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		return nil, fmt.Errorf("%s %s: body larger than %d bytes", method, path, c.opts.MaxBodyBytes)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// scrub removes the URL's user information from a transport error.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (c *Client) observe(method string, status int, start time.Time) {
	if c.opts.Observe != nil {
		c.opts.Observe(method, status, time.Since(start))
	}
}

func (c *Client) event(e string) {
	if c.opts.OnLogin != nil {
		c.opts.OnLogin(e)
	}
}

// credentials returns the function that authenticates a request, logging
// in first when a session is due, and the session token it uses ("" for
// basic authentication). The service root needs no authentication.
func (c *Client) credentials(ctx context.Context, target *url.URL) (func(*http.Request), string, error) {
	if p := strings.TrimSuffix(target.Path, "/"); p == ServiceRootPath && target.RawQuery == "" {
		return nil, "", nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.useBasicLocked() && c.token == "" {
		if err := c.loginLocked(ctx); err != nil {
			if c.opts.Auth == AuthSession {
				return nil, "", err
			}
			c.basicUntil = time.Now().Add(c.opts.SessionRetryAfter)
			c.event("basic_fallback")
		}
	}
	if c.useBasicLocked() || c.token == "" {
		pw, err := c.password()
		if err != nil {
			return nil, "", err
		}
		user := c.opts.Username
		return func(r *http.Request) { r.SetBasicAuth(user, pw) }, "", nil
	}
	tok := c.token
	return func(r *http.Request) { r.Header.Set("X-Auth-Token", tok) }, tok, nil
}

func (c *Client) password() (string, error) {
	if c.opts.Password == nil {
		return "", nil
	}
	pw, err := c.opts.Password()
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return pw, nil
}

// loginLocked creates a session. c.mu is held.
func (c *Client) loginLocked(ctx context.Context) error {
	pw, err := c.password()
	if err != nil {
		return err
	}
	target, err := c.resolve(c.sessionsPath)
	if err != nil {
		return fmt.Errorf("session login: %w", err)
	}
	resp, err := c.exchange(ctx, http.MethodPost, target, c.sessionsPath,
		mustJSON(map[string]string{"UserName": c.opts.Username, "Password": pw}), nil, nil)
	if err != nil {
		c.event("login_failed")
		return fmt.Errorf("session login: %w", err)
	}
	if resp.Status < 200 || resp.Status >= 300 {
		c.event("login_failed")
		e := &HTTPError{Method: http.MethodPost, Path: c.sessionsPath, Status: resp.Status}
		describeBody(e, resp.Body)
		if resp.Status == 401 || resp.Status == 403 {
			return fmt.Errorf("session login: %w: %v", ErrUnauthorized, e)
		}
		return fmt.Errorf("session login: %w", e)
	}
	tok := resp.Header.Get("X-Auth-Token")
	if tok == "" {
		c.event("login_failed")
		return errors.New("session login: no X-Auth-Token in the answer")
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		var b struct {
			ID string `json:"@odata.id"`
		}
		_ = json.Unmarshal(resp.Body, &b)
		loc = b.ID
	}
	c.token, c.sessionURI = tok, loc
	c.event("session")
	return nil
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (c *Client) dropSession(token string) {
	c.mu.Lock()
	if c.token == token {
		c.token, c.sessionURI = "", ""
	}
	c.mu.Unlock()
}

// HasSession reports whether the client holds a session.
func (c *Client) HasSession() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token != ""
}

// Logout deletes the session, if any, and closes idle connections.
func (c *Client) Logout(ctx context.Context) error {
	c.mu.Lock()
	tok, uri := c.token, c.sessionURI
	c.token, c.sessionURI = "", ""
	c.mu.Unlock()
	defer c.CloseIdle()
	if tok == "" || uri == "" {
		return nil
	}
	target, err := c.resolve(uri)
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	resp, err := c.exchange(ctx, http.MethodDelete, target, uri, nil, nil, func(r *http.Request) { r.Header.Set("X-Auth-Token", tok) })
	if err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	c.event("logout")
	if resp.Status >= 300 && resp.Status != 404 && resp.Status != 401 {
		return fmt.Errorf("logout: %w", &HTTPError{Method: http.MethodDelete, Path: uri, Status: resp.Status})
	}
	return nil
}

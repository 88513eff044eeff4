package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Principal is who a bearer token belongs to.
type Principal struct {
	// Name identifies the user or token in the timeline ("user:<Name>").
	Name string
	// ReadOnly principals see no action buttons and get 403 on POST.
	ReadOnly bool
}

// ErrBadToken is returned by an Authenticator for an unknown token.
var ErrBadToken = errors.New("unknown or expired token")

// Authenticator checks a bearer token: the same tokens the HTTP API takes.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(ctx context.Context, token string) (Principal, error)

// Authenticate calls f.
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token string) (Principal, error) {
	return f(ctx, token)
}

// StaticTokens is an Authenticator over a fixed token → principal table,
// compared in constant time.
type StaticTokens map[string]Principal

// Authenticate looks token up.
func (s StaticTokens) Authenticate(_ context.Context, token string) (Principal, error) {
	var found Principal
	ok := false
	for t, p := range s {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			found, ok = p, true
		}
	}
	if !ok || token == "" {
		return Principal{}, ErrBadToken
	}
	return found, nil
}

// The cookies the UI sets. Both are HttpOnly and SameSite=Strict.
const (
	tokenCookie = "fleetwatch_token"
	csrfCookie  = "fleetwatch_csrf"
)

// principal is the request's user as the handlers see it.
type principal struct {
	Principal
	// csrf is the token forms must carry back ("" for header-authenticated
	// clients, which need none).
	CSRF string
}

// actor is how the user is named on the timeline.
func (p principal) actor() string { return "user:" + p.Name }

// csrfKey signs CSRF tokens: a token is HMAC(key, the browser's csrf
// cookie), so a page from another site can neither read nor forge it.
type csrfKey struct{ key []byte }

func newCSRFKey() (*csrfKey, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("web: CSRF key: %w", err)
	}
	return &csrfKey{key: k}, nil
}

func (k *csrfKey) token(nonce string) string {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(nonce))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (k *csrfKey) valid(nonce, tok string) bool {
	if nonce == "" || tok == "" {
		return false
	}
	return hmac.Equal([]byte(k.token(nonce)), []byte(tok))
}

func randomString() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(tok), true
	}
	return "", false
}

func setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
}

// identify finds who makes the request: an Authorization header (API
// clients), the token cookie (browsers), or anonymous when no auth is
// configured. ok is false when authentication is required and failed.
func (u *UI) identify(w http.ResponseWriter, r *http.Request) (principal, bool) {
	var p principal
	tok, header := bearer(r)
	if u.o.Auth == nil {
		p.Principal = Principal{Name: "anonymous"}
	} else {
		if !header {
			c, err := r.Cookie(tokenCookie)
			if err != nil {
				return p, false
			}
			tok = c.Value
		}
		pr, err := u.o.Auth.Authenticate(r.Context(), tok)
		if err != nil {
			return p, false
		}
		p.Principal = pr
	}
	if header {
		return p, true
	}
	nonce := ""
	if c, err := r.Cookie(csrfCookie); err == nil && c.Value != "" {
		nonce = c.Value
	} else if w != nil {
		nonce = randomString()
		setCookie(w, r, csrfCookie, nonce, 0)
	}
	p.CSRF = u.csrf.token(nonce)
	return p, true
}

// authed runs h for an identified user; a browser without a valid token
// is sent to the login form, an API client gets 401.
func (u *UI) authed(h func(http.ResponseWriter, *http.Request, principal)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := u.identify(w, r)
		if !ok {
			if _, header := bearer(r); header || r.Method != http.MethodGet {
				w.Header().Set("WWW-Authenticate", `Bearer realm="fleetwatch"`)
				u.errorPage(w, r, principal{}, http.StatusUnauthorized, "A valid bearer token is required. Log in at /login.")
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		h(w, r, p)
	})
}

// writer guards state changes: read-only users get 403, the form is read
// and checked (parseForm), browser forms must carry the CSRF token (API
// clients with a bearer header need none).
func (u *UI) writer(h func(http.ResponseWriter, *http.Request, principal)) func(http.ResponseWriter, *http.Request, principal) {
	return func(w http.ResponseWriter, r *http.Request, p principal) {
		if p.ReadOnly {
			u.errorPage(w, r, p, http.StatusForbidden, fmt.Sprintf("%s has a read-only token: it may look but not act.", p.Name))
			return
		}
		if !u.parseForm(w, r, p) {
			return
		}
		if _, header := bearer(r); !header {
			nonce := ""
			if c, err := r.Cookie(csrfCookie); err == nil {
				nonce = c.Value
			}
			tok := r.PostFormValue("csrf")
			if tok == "" {
				tok = r.Header.Get("X-CSRF-Token")
			}
			if !u.csrf.valid(nonce, tok) {
				u.errorPage(w, r, p, http.StatusForbidden, "The form's CSRF token is missing or stale (fleetwatch may have restarted): reload the page and try again.")
				return
			}
		}
		h(w, r, p)
	}
}

// safeNext keeps redirects after login on this site.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/incidents"
	}
	return next
}

func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "login", principal{}, map[string]any{
		"Next": safeNext(r.URL.Query().Get("next")), "AuthEnabled": u.o.Auth != nil,
	})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	if !u.parseForm(w, r, principal{}) {
		return
	}
	next := safeNext(r.PostFormValue("next"))
	if u.o.Auth == nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	p, err := u.o.Auth.Authenticate(r.Context(), tok)
	if err != nil {
		u.metrics.loginFailures.Inc()
		u.log.Info("login failed", "remote", r.RemoteAddr, "err", err)
		u.render(w, r, http.StatusUnauthorized, "login", principal{}, map[string]any{
			"Next": next, "AuthEnabled": true, "Error": "That token is not valid.",
		})
		return
	}
	setCookie(w, r, tokenCookie, tok, 0)
	u.log.Info("login", "user", p.Name, "remote", r.RemoteAddr)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	setCookie(w, r, tokenCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

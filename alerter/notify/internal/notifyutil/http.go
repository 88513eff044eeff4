package notifyutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

// maxErrorBody bounds how much of an error response is read and quoted.
const maxErrorBody = 512

// NewHTTPClient returns a client with its own transport (never
// http.DefaultClient, which other code may change) using tlsConfig.
// Redirects are not followed: a receiver answering 3xx is misconfigured,
// and following it would send the body (and headers that carry tokens)
// elsewhere.
func NewHTTPClient(tc TLSConfig, prefix string) (*http.Client, error) {
	tlsc, err := tc.Build(prefix)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsc
	tr.MaxIdleConnsPerHost = 4
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// Post sends body to target and classifies the answer: 2xx is success;
// 429, 5xx and network errors are worth a retry (with the Retry-After the
// server sent, as a notify.RetryAfterError); anything else is not. Errors
// never contain target, header values or the response beyond a short,
// redacted excerpt; secrets are removed from that excerpt too.
func Post(ctx context.Context, client *http.Client, target string, body []byte, header http.Header, secrets ...string) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		// url.Parse errors quote the URL: drop it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return false, fmt.Errorf("building the request: %s", Redact(err.Error(), append(secrets, target)...))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return true, NetworkError(err, append(secrets, target)...)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	if resp.StatusCode/100 == 2 {
		return false, nil
	}
	err = fmt.Errorf("HTTP %d %s%s", resp.StatusCode, http.StatusText(resp.StatusCode), quote(excerpt, append(secrets, target)...))
	if Retryable(resp.StatusCode) {
		return true, notify.WithRetryAfter(err, ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
	}
	return false, err
}

// Retryable says whether an HTTP status is worth a retry: 429 and 5xx.
func Retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// NetworkError describes a failed request without the URL that
// net/http's errors quote (it may hold a token).
func NetworkError(err error, secrets ...string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("request timed out: %w", context.DeadlineExceeded)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("request canceled: %w", context.Canceled)
	}
	return fmt.Errorf("request failed: %s", Redact(err.Error(), secrets...))
}

func quote(b []byte, secrets ...string) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if s == "" {
		return ""
	}
	return ": " + strconv.Quote(Redact(s, secrets...))
}

// Redact replaces every non-empty secret in s by <secret>.
func Redact(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "<secret>")
		}
	}
	return s
}

// ParseRetryAfter reads an HTTP Retry-After value: a number of seconds or
// an HTTP date. It returns 0 for an empty, malformed or past value.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// URLSecrets returns what of a URL must not be shown: the URL itself, its
// user information, and its path segments and query values of 8 bytes or
// more (where tokens live, e.g. Slack's /services/T…/B…/<token>), longest
// first so that redacting one never leaves part of another.
func URLSecrets(raw string) []string {
	out := []string{raw}
	u, err := url.Parse(raw)
	if err != nil {
		return out
	}
	if u.User != nil {
		out = append(out, u.User.String())
		if p, ok := u.User.Password(); ok {
			out = append(out, p)
		}
	}
	for _, seg := range strings.Split(u.EscapedPath(), "/") {
		if len(seg) >= 8 {
			out = append(out, seg)
			if s, err := url.PathUnescape(seg); err == nil && s != seg {
				out = append(out, s)
			}
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				out = append(out, v, url.QueryEscape(v))
			}
		}
	}
	slices.SortStableFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

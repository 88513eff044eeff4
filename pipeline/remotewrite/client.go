package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	config_util "github.com/prometheus/common/config"
)

// userAgent is sent with every request.
const userAgent = "fleetwatch-remote-write/1"

// client posts encoded WriteRequests to one receiver.
type client struct {
	url        string // as configured, for requests only
	endpoint   string // redacted, for errors, logs and labels
	hc         *http.Client
	timeout    time.Duration
	headers    map[string]string
	retryOn429 bool
}

func newClient(c *Config) (*client, error) {
	hc, err := config_util.NewClientFromConfig(c.httpClientConfig(), "remote_write_"+c.Name)
	if err != nil {
		// prometheus/common's errors name files, never their content.
		return nil, fmt.Errorf("remote_write %q: http client: %w", c.Name, err)
	}
	return &client{
		url:        c.URL,
		endpoint:   redactURL(c.URL),
		hc:         hc,
		timeout:    time.Duration(c.RemoteTimeout),
		headers:    c.Headers,
		retryOn429: *c.QueueConfig.RetryOnHTTP429,
	}, nil
}

// sendError is a failed request. Recoverable errors are retried.
type sendError struct {
	recoverable bool
	retryAfter  time.Duration
	status      int
	err         error
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// isRecoverable reports whether err is worth retrying and after how long
// the receiver asked us to wait (0: our own backoff).
func isRecoverable(err error) (bool, time.Duration) {
	var se *sendError
	if errors.As(err, &se) {
		return se.recoverable, se.retryAfter
	}
	return false, 0
}

// store sends one snappy-compressed protobuf WriteRequest.
func (c *client) store(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return &sendError{err: fmt.Errorf("%s: %w", c.endpoint, err)}
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := c.hc.Do(req)
	if err != nil {
		// Connection refused, reset, timeout: the receiver may come back.
		return &sendError{recoverable: true, err: fmt.Errorf("%s: %w", c.endpoint, stripURL(err))}
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	se := &sendError{
		status: resp.StatusCode,
		err:    fmt.Errorf("%s: HTTP %s: %s", c.endpoint, resp.Status, strings.TrimSpace(string(msg))),
	}
	switch {
	case resp.StatusCode/100 == 5:
		se.recoverable = true
	case resp.StatusCode == http.StatusTooManyRequests && c.retryOn429:
		se.recoverable = true
	}
	if se.recoverable {
		se.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"))
	}
	return se
}

// parseRetryAfter reads seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// stripURL drops the *url.Error wrapper, whose text repeats the full URL
// (query string included); the caller names the redacted endpoint.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

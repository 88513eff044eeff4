package fwds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Settings are a datasource instance's settings: the URL from Grafana's
// URL field (or jsonData.url), the token from secureJsonData.token.
type Settings struct {
	URL     string `json:"url"`
	Timeout int    `json:"timeoutSeconds"` // 0: 30
	Token   string `json:"-"`
}

// ParseSettings reads the instance's settings, naming the bad field.
func ParseSettings(urlField string, jsonData []byte, secure map[string]string) (Settings, error) {
	var s Settings
	if len(jsonData) > 0 {
		if err := json.Unmarshal(jsonData, &s); err != nil {
			return s, fmt.Errorf("jsonData: %w", err)
		}
	}
	if urlField != "" {
		s.URL = urlField
	}
	s.URL = strings.TrimRight(strings.TrimSpace(s.URL), "/")
	if s.URL == "" {
		return s, errors.New("field url: fleetwatch's address is required (e.g. http://127.0.0.1:9470)")
	}
	u, err := url.Parse(s.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return s, fmt.Errorf("field url: %q is not an http(s) URL", s.URL)
	}
	if s.Timeout < 0 || s.Timeout > 600 {
		return s, fmt.Errorf("field timeoutSeconds: %d is outside 0..600", s.Timeout)
	}
	if s.Timeout == 0 {
		s.Timeout = 30
	}
	s.Token = secure["token"]
	return s, nil
}

// Detail is GET /api/v1/incidents/{id}.
type Detail struct {
	Incident     store.Incident         `json:"incident"`
	Alerts       []store.Alert          `json:"alerts"`
	Timeline     []store.TimelineEvent  `json:"timeline"`
	Remediations []store.RemediationRun `json:"remediations"`
}

// APIError is an answer of fleetwatch other than 2xx.
type APIError struct {
	Method, Path string
	Status       int
	Message      string
}

func (e *APIError) Error() string {
	if e.Message != "" {
		return fmt.Sprintf("fleetwatch %s %s: HTTP %d: %s", e.Method, e.Path, e.Status, e.Message)
	}
	return fmt.Sprintf("fleetwatch %s %s: HTTP %d", e.Method, e.Path, e.Status)
}

// client reads fleetwatch's API. It only ever sends GET requests.
type client struct {
	base    string
	token   string
	hc      *http.Client
	metrics *metrics
}

func newClient(s Settings, hc *http.Client) *client {
	if hc == nil {
		hc = &http.Client{Timeout: time.Duration(s.Timeout) * time.Second}
	}
	return &client{base: s.URL, token: s.Token, hc: hc}
}

func (c *client) get(ctx context.Context, endpoint, path string, auth bool, out any) error {
	code := "error"
	if c.metrics != nil {
		t0 := time.Now()
		defer func() {
			c.metrics.requests.WithLabelValues(endpoint, code).Inc()
			c.metrics.duration.WithLabelValues(endpoint).Observe(time.Since(t0).Seconds())
		}()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	if auth && c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		// The URL error names the address; it never carries the token.
		return fmt.Errorf("fleetwatch GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	code = strconv.Itoa(resp.StatusCode)
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("fleetwatch GET %s: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return &APIError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Message: e.Error}
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("fleetwatch GET %s: answer is not the expected JSON: %w", path, err)
	}
	return nil
}

// Filter selects incidents. Empty fields match all.
type Filter struct {
	States   []string
	Severity string
	Site     string
	Rack     string
	Receiver string
	Since    time.Time
	Limit    int
}

func (f Filter) values() url.Values {
	q := url.Values{}
	if len(f.States) > 0 {
		q.Set("state", strings.Join(f.States, ","))
	}
	for k, v := range map[string]string{"severity": f.Severity, "site": f.Site, "rack": f.Rack, "receiver": f.Receiver} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return q
}

func (c *client) incidents(ctx context.Context, f Filter) ([]store.Incident, error) {
	var r struct {
		Incidents []store.Incident `json:"incidents"`
	}
	err := c.get(ctx, "incidents", "/api/v1/incidents?"+f.values().Encode(), true, &r)
	return r.Incidents, err
}

func (c *client) incident(ctx context.Context, id string) (Detail, error) {
	var d Detail
	err := c.get(ctx, "incident", "/api/v1/incidents/"+url.PathEscape(id), true, &d)
	return d, err
}

// buildInfo is GET /api/v1/status/buildinfo (no token needed).
func (c *client) buildInfo(ctx context.Context) (string, error) {
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Version string `json:"version"`
		} `json:"data"`
	}
	if err := c.get(ctx, "buildinfo", "/api/v1/status/buildinfo", false, &r); err != nil {
		return "", err
	}
	return r.Data.Version, nil
}

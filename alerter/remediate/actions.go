package remediate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/inventory"
)

// MaxOutput bounds the output kept from an action (a script's stdout and
// stderr, an HTTP response body).
const MaxOutput = 8 << 10

// Document is what an action receives: the JSON on an exec command's
// stdin, the default body of an http action, and the data of a
// body_template.
type Document struct {
	// Version of this shape; it changes only by adding fields.
	Version  int            `json:"version"`
	Run      DocumentRun    `json:"run"`
	Server   DocumentServer `json:"server"`
	Incident store.Incident `json:"incident"`
	// Alerts are the incident's firing alerts on this server that match
	// the remediation.
	Alerts []store.Alert `json:"alerts"`
}

// DocumentRun describes the run.
type DocumentRun struct {
	ID          int64  `json:"id"`
	Remediation string `json:"remediation"`
	Action      string `json:"action"` // exec, http, redfish, lifecycle
	// Actor approved the run ("user:alice") or is "fleetwatch".
	Actor   string `json:"actor"`
	Timeout string `json:"timeout"`
}

// DocumentServer is the server acted on, as the inventory knows it (only
// the hostname when it is not in the inventory).
type DocumentServer struct {
	Hostname   string              `json:"hostname"`
	BMC        string              `json:"bmc,omitempty"`
	Site       string              `json:"site,omitempty"`
	Row        string              `json:"row,omitempty"`
	Rack       string              `json:"rack,omitempty"`
	Switch     string              `json:"switch,omitempty"`
	SwitchPort string              `json:"switchPort,omitempty"`
	Lifecycle  inventory.Lifecycle `json:"lifecycle,omitempty"`
	Labels     map[string]string   `json:"labels,omitempty"`
}

// redactor replaces secrets in text bound for a run's output, a reason, the
// timeline or a log line.
type redactor struct{ secrets []string }

// minSecret is the shortest value treated as a secret: shorter ones would
// redact ordinary words.
const minSecret = 4

func (r *redactor) add(s string) {
	s = strings.TrimSpace(s)
	if len(s) >= minSecret {
		r.secrets = append(r.secrets, s)
		if esc := url.QueryEscape(s); esc != s {
			r.secrets = append(r.secrets, esc)
		}
	}
}

// addURL treats the whole URL and its password, query values and long path
// segments as secrets.
func (r *redactor) addURL(raw string) {
	r.add(raw)
	u, err := url.Parse(raw)
	if err != nil {
		return
	}
	if p, ok := u.User.Password(); ok {
		r.add(p)
		r.add(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + p)))
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			r.add(v)
		}
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 12 {
			r.add(seg)
		}
	}
}

func (r *redactor) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "<redacted>")
	}
	return s
}

// secretEnvKey matches env keys whose values are redacted from output.
var secretEnvKey = regexp.MustCompile(`(?i)(token|secret|pass|key|auth|credential|cookie|session)`)

// boundedBuffer keeps the first max bytes written and counts the rest.
type boundedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	room := b.max - b.buf.Len()
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		b.buf.Write(p[:room])
	}
	b.dropped += len(p) - max(room, 0)
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	s := strings.ToValidUTF8(b.buf.String(), "\uFFFD")
	if b.dropped > 0 {
		s += fmt.Sprintf("\n[… %d more bytes not kept]", b.dropped)
	}
	return s
}

// act runs the remediation's action for doc. The output and error it
// returns are already redacted.
func (e *Engine) act(ctx context.Context, r *Remediation, doc Document) (string, error) {
	red := &redactor{}
	out, err := e.actRaw(ctx, r, doc, red)
	out = red.redact(out)
	if err != nil {
		err = errors.New(red.redact(err.Error()))
	}
	return out, err
}

func (e *Engine) actRaw(ctx context.Context, r *Remediation, doc Document, red *redactor) (string, error) {
	a := r.Action
	switch {
	case a.Exec != nil:
		for k, v := range a.Exec.Env {
			if secretEnvKey.MatchString(k) {
				red.add(v)
			}
		}
		return runExec(ctx, a.Exec, doc)
	case a.HTTP != nil:
		return e.runHTTP(ctx, a.HTTP, doc, red)
	case a.Redfish != nil:
		if e.redfish == nil {
			return "", errors.New("no Redfish actuator is configured")
		}
		if doc.Server.BMC == "" {
			return "", fmt.Errorf("server %q has no bmc address", doc.Server.Hostname)
		}
		if a.Redfish.PXEOnce {
			if err := e.redfish.PXEBootOnce(ctx, doc.Server.BMC); err != nil {
				return "", fmt.Errorf("bmc %q: pxe_once: %w", doc.Server.BMC, err)
			}
			return "PXE boot once set through bmc " + doc.Server.BMC, nil
		}
		if err := e.redfish.Reset(ctx, doc.Server.BMC, a.Redfish.ResetType); err != nil {
			return "", fmt.Errorf("bmc %q: reset %s: %w", doc.Server.BMC, a.Redfish.ResetType, err)
		}
		return "reset " + a.Redfish.ResetType + " sent through bmc " + doc.Server.BMC, nil
	case a.Lifecycle != nil:
		if e.life == nil {
			return "", errors.New("no lifecycle setter is configured")
		}
		why := fmt.Sprintf("remediation %s, incident %s, run %d", r.Name, doc.Incident.ID, doc.Run.ID)
		if err := e.life.SetLifecycle(ctx, doc.Server.Hostname, a.Lifecycle.State, why); err != nil {
			return "", fmt.Errorf("server %q: set lifecycle %s: %w", doc.Server.Hostname, a.Lifecycle.State, err)
		}
		return fmt.Sprintf("lifecycle of %s set to %s", doc.Server.Hostname, a.Lifecycle.State), nil
	}
	return "", errors.New("no action configured")
}

// httpAttempts is how many times an http action is tried on 429, 5xx or a
// connection error, backing off 1s, 2s, 4s between attempts (never past
// the run's timeout).
const httpAttempts = 4

func (e *Engine) runHTTP(ctx context.Context, h *HTTPAction, doc Document, red *redactor) (string, error) {
	target := h.URL
	if h.URLFile != "" {
		raw, err := os.ReadFile(h.URLFile)
		if err != nil {
			return "", fmt.Errorf("url_file %q: %w", h.URLFile, bareErr(err))
		}
		target = strings.TrimSpace(string(raw))
		if err := checkURL(target); err != nil {
			return "", fmt.Errorf("url_file %q: %v", h.URLFile, err)
		}
	}
	red.addURL(target)
	header := http.Header{"Content-Type": {"application/json"}, "User-Agent": {"fleetwatch-remediation"}}
	if h.HeadersFile != "" {
		if err := readHeaders(h.HeadersFile, header, red); err != nil {
			return "", err
		}
	}
	var body []byte
	if h.tmpl != nil {
		var b bytes.Buffer
		if err := h.tmpl.Execute(&b, doc); err != nil {
			return "", fmt.Errorf("body_template: %w", err)
		}
		body = b.Bytes()
	} else {
		var err error
		if body, err = json.Marshal(doc); err != nil {
			return "", err
		}
	}
	perTry := 30 * time.Second
	if h.Timeout > 0 {
		perTry = time.Duration(h.Timeout)
	}
	var lastErr error
	backoff := e.backoff
	for attempt := 1; attempt <= httpAttempts; attempt++ {
		out, retry, err := e.httpOnce(ctx, h.Method, target, header, body, perTry)
		if err == nil {
			return out, nil
		}
		lastErr = fmt.Errorf("attempt %d: %w", attempt, err)
		if !retry || attempt == httpAttempts {
			return out, lastErr
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("%w (gave up: %v)", lastErr, context.Cause(ctx))
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	return "", lastErr
}

func (e *Engine) httpOnce(ctx context.Context, method, target string, header http.Header, body []byte, timeout time.Duration) (out string, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return "", false, errors.New("cannot build the request for the configured url")
	}
	req.Header = header.Clone()
	resp, err := e.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its message quotes the URL
		}
		return "", true, fmt.Errorf("%s to the configured url: %w", method, err)
	}
	defer resp.Body.Close()
	b := &boundedBuffer{max: MaxOutput}
	_, _ = io.Copy(b, io.LimitReader(resp.Body, 1<<20))
	out = fmt.Sprintf("HTTP %d\n%s", resp.StatusCode, b.String())
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return out, false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return out, true, fmt.Errorf("%s to the configured url: HTTP %d", method, resp.StatusCode)
	default:
		return out, false, fmt.Errorf("%s to the configured url: HTTP %d (not retried)", method, resp.StatusCode)
	}
}

// bareErr drops the path a *fs.PathError repeats.
func bareErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readHeaders reads `Name: value` lines (blank lines and # comments
// skipped) into h; every value is a secret.
func readHeaders(file string, h http.Header, red *redactor) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("headers_file %q: %w", file, bareErr(err))
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, value, ok := strings.Cut(text, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("headers_file %q: line %d: want `Name: value`", file, line)
		}
		red.add(value)
		if _, rest, ok := strings.Cut(value, " "); ok {
			red.add(rest) // the token of "Bearer <token>"
		}
		h.Set(name, value)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("headers_file %q: %w", file, err)
	}
	return nil
}

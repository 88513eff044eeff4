package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrUnauthorized: the BMC refused the credentials (401 after a fresh
	// login, or 401/403 to basic authentication).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotFound: 404, or a Redfish error body saying the resource is missing.
	ErrNotFound = errors.New("resource not found")
	// ErrNotJSON: the body is not a JSON document (an HTML page, a truncated
	// or malformed body).
	ErrNotJSON = errors.New("response is not valid JSON")
	// ErrBudget: the per-poll request budget is spent.
	ErrBudget = errors.New("request budget exhausted")
)

// HTTPError is a response with an error status, or a Redfish error body.
type HTTPError struct {
	Method string
	Path   string
	Status int
	// Code and Message come from a Redfish error body ("error": {"code",
	// "message", "@Message.ExtendedInfo"}), or Message is the <title> of an
	// HTML page.
	Code    string
	Message string
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("%s %s: HTTP %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is lets errors.Is match ErrNotFound and ErrUnauthorized.
func (e *HTTPError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == 404 || strings.Contains(e.Code+e.Message, "ResourceMissing") || strings.Contains(e.Message, "was not found")
	case ErrUnauthorized:
		return e.Status == 401
	}
	return false
}

// Retryable reports whether the status is worth another try: a busy or
// restarting BMC.
func (e *HTTPError) Retryable() bool {
	switch e.Status {
	case 429, 500, 502, 503, 504:
		return true
	}
	return false
}

// redfishError is the body of a Redfish error response.
type redfishError struct {
	Error *struct {
		Code         string `json:"code"`
		Message      string `json:"message"`
		ExtendedInfo []struct {
			MessageID string `json:"MessageId"`
			Message   string `json:"Message"`
		} `json:"@Message.ExtendedInfo"`
	} `json:"error"`
}

var titleRE = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)

// describeBody fills Code and Message of e from an error body.
func describeBody(e *HTTPError, body []byte) {
	trimmed := bytes.TrimSpace(body)
	if isHTML(trimmed) {
		e.Code = "HTML page"
		if m := titleRE.FindSubmatch(trimmed); m != nil {
			e.Message = clip(strings.TrimSpace(string(m[1])), 120)
		}
		return
	}
	var re redfishError
	if json.Unmarshal(trimmed, &re) == nil && re.Error != nil {
		e.Code = re.Error.Code
		e.Message = clip(re.Error.Message, 200)
		for _, x := range re.Error.ExtendedInfo {
			if x.MessageID != "" {
				e.Code = x.MessageID
			}
			if x.Message != "" {
				e.Message = clip(x.Message, 200)
			}
		}
		return
	}
	if len(trimmed) > 0 && e.Status >= 400 {
		e.Message = clip(strings.Join(strings.Fields(string(trimmed)), " "), 120)
	}
}

// errorOnlyBody reports whether a 2xx body is a Redfish error document (some
// BMCs and mockups answer a missing resource with 200 and an error body).
func errorOnlyBody(body []byte) bool {
	t := bytes.TrimSpace(body)
	if len(t) < 10 || t[0] != '{' {
		return false
	}
	i := bytes.IndexByte(t[1:], '"')
	if i < 0 || i > 8 {
		return false
	}
	return bytes.HasPrefix(t[1+i:], []byte(`"error"`))
}

func isHTML(b []byte) bool {
	return len(b) > 0 && b[0] == '<'
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

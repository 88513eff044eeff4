package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

var (
	errNoIncident = errors.New("no such incident")
	errBadState   = errors.New("incident not in a state for this")
)

// fakeAlerter answers like the alerter's engine: its own sentinels.
type fakeAlerter struct{ calls []string }

func (f *fakeAlerter) Acknowledge(_ context.Context, id, actor string) (store.Incident, error) {
	f.calls = append(f.calls, "ack "+id+" "+actor)
	switch id {
	case "gone":
		return store.Incident{}, fmt.Errorf("incident %q: %w", id, errNoIncident)
	case "done":
		return store.Incident{}, fmt.Errorf("incident %q is resolved: %w", id, errBadState)
	}
	return store.Incident{ID: id, State: store.Acknowledged}, nil
}

func (f *fakeAlerter) Resolve(_ context.Context, id, actor, reason string) (store.Incident, error) {
	f.calls = append(f.calls, "resolve "+id+" "+actor+" "+reason)
	return store.Incident{}, nil
}

func (f *fakeAlerter) AddNote(_ context.Context, id, actor, text string) (store.TimelineEvent, error) {
	f.calls = append(f.calls, "note "+id+" "+actor+" "+text)
	return store.TimelineEvent{}, nil
}

func (f *fakeAlerter) ApproveRemediation(_ context.Context, id string, run int64, actor string) error {
	f.calls = append(f.calls, fmt.Sprintf("approve %s %d %s", id, run, actor))
	return nil
}

func (f *fakeAlerter) PutSilence(_ context.Context, s store.Silence) (string, error) {
	f.calls = append(f.calls, "silence "+s.CreatedBy+" "+fmtMatchers(s.Matchers))
	return "s1", nil
}

func (f *fakeAlerter) ExpireSilence(_ context.Context, id, actor string) error {
	f.calls = append(f.calls, "expire "+id+" "+actor)
	return fmt.Errorf("silence %q: %w", id, store.ErrNotFound)
}

func TestAlerterActions(t *testing.T) {
	fe := &fakeAlerter{}
	f := newFixture(t, func(o *Options) {
		o.Actions = AlerterActions(fe, AlerterOptions{NotFound: errNoIncident, BadState: errBadState})
	})
	for _, tc := range []struct {
		path string
		form []string
		code int
		body string
	}{
		{"/incidents/inc-dc1-node/ack", nil, 303, ""},
		{"/incidents/gone/ack", nil, 404, "no such incident"},
		{"/incidents/done/ack", nil, 409, "is resolved"},
		{"/incidents/inc-dc1-node/resolve", nil, 303, ""},
		{"/incidents/inc-dc1-node/note", []string{"text", "hello"}, 303, ""},
		{"/incidents/inc-dc1-node/remediations/1/approve", nil, 303, ""},
		{"/incidents/inc-dc1-node/remediations/1/reject", nil, 400, "rejecting remediation runs is not configured"},
		{"/silences", []string{"matchers", `{site="dc1"}`, "comment", "c"}, 303, ""},
		{"/silences/s9/expire", nil, 404, "not found"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			code, body, _ := post(t, f.client(t), f.srv.URL+tc.path, formOf(tc.form...), "Authorization", "Bearer x")
			if code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("status %d, want %d with %q:\n%s", code, tc.code, tc.body, body)
			}
		})
	}
	want := `ack inc-dc1-node user:anonymous|ack gone user:anonymous|ack done user:anonymous|resolve inc-dc1-node user:anonymous resolved in the UI|note inc-dc1-node user:anonymous hello|approve inc-dc1-node 1 user:anonymous|silence anonymous {site="dc1"}|expire s9 user:anonymous`
	if got := strings.Join(fe.calls, "|"); got != want {
		t.Errorf("engine calls:\n%s\nwant\n%s", got, want)
	}
}

func TestCheckerAuth(t *testing.T) {
	errForbidden := errors.New("forbidden")
	check := func(r *http.Request, write bool) (string, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer writer-token-0123456":
			return "ops", nil
		case "Bearer reader-token-0123456":
			if write {
				return "grafana", errForbidden
			}
			return "grafana", nil
		}
		return "", errors.New("unauthorized")
	}
	a := CheckerAuth(check, errForbidden)
	ctx := context.Background()
	for tok, want := range map[string]Principal{
		"writer-token-0123456": {Name: "ops"},
		"reader-token-0123456": {Name: "grafana", ReadOnly: true},
	} {
		if p, err := a.Authenticate(ctx, tok); err != nil || p != want {
			t.Errorf("%s: %+v %v, want %+v", tok, p, err, want)
		}
	}
	for _, tok := range []string{"", "nope"} {
		if _, err := a.Authenticate(ctx, tok); !errors.Is(err, ErrBadToken) {
			t.Errorf("token %q: %v, want ErrBadToken", tok, err)
		}
	}
}

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Alerter is the part of the alerter's engine the UI acts through;
// *alerter.Engine has these methods. (web does not import the alerter: the
// wiring passes the engine in.)
type Alerter interface {
	Acknowledge(ctx context.Context, id, actor string) (store.Incident, error)
	Resolve(ctx context.Context, id, actor, reason string) (store.Incident, error)
	AddNote(ctx context.Context, id, actor, text string) (store.TimelineEvent, error)
	ApproveRemediation(ctx context.Context, id string, run int64, actor string) error
	PutSilence(ctx context.Context, s store.Silence) (string, error)
	ExpireSilence(ctx context.Context, id, actor string) error
}

// AlerterOptions tune AlerterActions.
type AlerterOptions struct {
	// NotFound and BadState are the engine's sentinel errors
	// (alerter.ErrNoIncident, alerter.ErrBadState): the UI answers them
	// with 404 and 409.
	NotFound, BadState error
	// Reject stops a run waiting for approval (the remediation engine's
	// Reject); nil answers "not supported".
	Reject func(ctx context.Context, runID int64, actor, reason string) error
}

// AlerterActions adapts the alerter's engine to Actions.
func AlerterActions(e Alerter, o AlerterOptions) Actions { return alerterActions{e: e, o: o} }

type alerterActions struct {
	e Alerter
	o AlerterOptions
}

// classify wraps the engine's sentinels into the ones the UI knows.
func (a alerterActions) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case a.o.NotFound != nil && errors.Is(err, a.o.NotFound):
		return fmt.Errorf("%w: %w", store.ErrNotFound, err)
	case a.o.BadState != nil && errors.Is(err, a.o.BadState):
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}

func (a alerterActions) Ack(ctx context.Context, id, actor string) error {
	_, err := a.e.Acknowledge(ctx, id, actor)
	return a.classify(err)
}

func (a alerterActions) Resolve(ctx context.Context, id, actor string) error {
	_, err := a.e.Resolve(ctx, id, actor, "resolved in the UI")
	return a.classify(err)
}

func (a alerterActions) AddNote(ctx context.Context, id, actor, text string) error {
	_, err := a.e.AddNote(ctx, id, actor, text)
	return a.classify(err)
}

func (a alerterActions) ApproveRemediation(ctx context.Context, id string, run int64, actor string) error {
	return a.classify(a.e.ApproveRemediation(ctx, id, run, actor))
}

func (a alerterActions) RejectRemediation(ctx context.Context, id string, run int64, actor, reason string) error {
	if a.o.Reject == nil {
		return fmt.Errorf("%w: rejecting remediation runs is not configured", ErrInvalid)
	}
	if err := a.o.Reject(ctx, run, actor, reason); err != nil {
		return fmt.Errorf("incident %q run %d: %w", id, run, a.classify(err))
	}
	return nil
}

func (a alerterActions) CreateSilence(ctx context.Context, s store.Silence, _ string) (string, error) {
	id, err := a.e.PutSilence(ctx, s)
	return id, a.classify(err)
}

func (a alerterActions) ExpireSilence(ctx context.Context, id, actor string) error {
	return a.classify(a.e.ExpireSilence(ctx, id, actor))
}

// CheckerAuth adapts the HTTP API's token check — a function of the shape
// of (*incidentapi.Tokens).Check: the token's name, or an error; forbidden
// (incidentapi.ErrForbidden) when a read-only token asks to write — to an
// Authenticator, so the UI takes exactly the API's tokens.
func CheckerAuth(check func(r *http.Request, write bool) (string, error), forbidden error) Authenticator {
	return AuthenticatorFunc(func(ctx context.Context, token string) (Principal, error) {
		if token == "" {
			return Principal{}, ErrBadToken
		}
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "/", nil)
		if err != nil {
			return Principal{}, err
		}
		r.Header.Set("Authorization", "Bearer "+token)
		name, err := check(r, true)
		switch {
		case err == nil:
			return Principal{Name: name}, nil
		case forbidden != nil && errors.Is(err, forbidden):
			return Principal{Name: name, ReadOnly: true}, nil
		default:
			return Principal{}, ErrBadToken
		}
	})
}

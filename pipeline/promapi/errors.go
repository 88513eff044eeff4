package promapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"
)

// errorType is the errorType string of Prometheus' error JSON.
type errorType string

// The error types Prometheus' API reports, with the same spelling.
const (
	errorTimeout     errorType = "timeout"
	errorCanceled    errorType = "canceled"
	errorExec        errorType = "execution"
	errorBadData     errorType = "bad_data"
	errorInternal    errorType = "internal"
	errorUnavailable errorType = "unavailable"
	errorNotFound    errorType = "not_found"
	errorCostLimit   errorType = "cost_limit"
)

// statusClientClosedConnection is the non-standard code (from nginx)
// Prometheus answers when the client went away before the query finished.
const statusClientClosedConnection = 499

// apiError is an error with the errorType that decides the HTTP status,
// unless code overrides it.
type apiError struct {
	typ  errorType
	err  error
	code int
}

// status is the HTTP status code the error is answered with.
func (e *apiError) status() int {
	if e.code != 0 {
		return e.code
	}
	return e.typ.httpStatus()
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.typ, e.err) }

func (e *apiError) Unwrap() error { return e.err }

// httpStatus maps an error type to the status code Prometheus answers with.
func (t errorType) httpStatus() int {
	switch t {
	case errorBadData:
		return http.StatusBadRequest
	case errorExec, errorCostLimit:
		return http.StatusUnprocessableEntity
	case errorCanceled:
		return statusClientClosedConnection
	case errorTimeout:
		return http.StatusServiceUnavailable
	case errorUnavailable:
		return http.StatusServiceUnavailable
	case errorNotFound:
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

func badData(err error) *apiError { return &apiError{typ: errorBadData, err: err} }

// formLimit is net/http's limit on a form-encoded body (its maxFormSize).
const formLimit = 10 << 20

// formError maps an error from r.ParseForm. A body over the limit —
// net/http's 10 MB for forms, or a smaller http.MaxBytesReader the server
// wraps the body in — is bad_data with 413 Request Entity Too Large rather
// than Prometheus' 400, so a client can tell "too large" from "malformed";
// anything else is bad_data (400), as in Prometheus.
func formError(err error) *apiError {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return &apiError{typ: errorBadData, code: http.StatusRequestEntityTooLarge,
			err: fmt.Errorf("error parsing form values: the request body is larger than the limit of %d bytes", mbe.Limit)}
	case err.Error() == "http: POST too large":
		return &apiError{typ: errorBadData, code: http.StatusRequestEntityTooLarge,
			err: fmt.Errorf("error parsing form values: the form is larger than the limit of %d bytes (10 MiB)", formLimit)}
	}
	return badData(fmt.Errorf("error parsing form values: %w", err))
}

// invalidParam reports a parameter that does not parse, naming it as
// Prometheus does: `invalid parameter "time": …`.
func invalidParam(err error, name string) *apiError {
	return &apiError{typ: errorBadData, err: fmt.Errorf("invalid parameter %q: %w", name, err)}
}

// queryError classifies an error from the engine or the storage the way
// Prometheus' returnAPIError does.
func queryError(err error) *apiError {
	if err == nil {
		return nil
	}
	var (
		eqc   promql.ErrQueryCanceled
		eqt   promql.ErrQueryTimeout
		es    promql.ErrStorage
		etms  promql.ErrTooManySeries
		etmsr promql.ErrTooManySamplesRead
	)
	switch {
	case errors.As(err, &eqc):
		return &apiError{typ: errorCanceled, err: err}
	case errors.As(err, &eqt):
		return &apiError{typ: errorTimeout, err: err}
	case errors.As(err, &etms), errors.As(err, &etmsr):
		return &apiError{typ: errorCostLimit, err: err}
	case errors.Is(err, tsdb.ErrNotReady):
		return &apiError{typ: errorUnavailable, err: err}
	case errors.As(err, &es):
		return &apiError{typ: errorInternal, err: err}
	case errors.Is(err, context.Canceled):
		return &apiError{typ: errorCanceled, err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &apiError{typ: errorTimeout, err: err}
	}
	return &apiError{typ: errorExec, err: err}
}

// constructionError maps an error from building a query: a parse error is
// bad data naming the "query" parameter; running out of time while waiting
// for a query slot is a timeout.
func constructionError(err error) *apiError {
	var (
		eqt promql.ErrQueryTimeout
		eqc promql.ErrQueryCanceled
		eac promql.ErrLimitAboveCeiling
	)
	switch {
	case errors.As(err, &eac):
		return badData(err)
	case errors.As(err, &eqt), errors.As(err, &eqc),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return queryError(err)
	}
	return invalidParam(err, "query")
}

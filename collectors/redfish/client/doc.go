// Package client is the small Redfish HTTP client the redfish collector, its
// actions and `fleetwatch redfish get` use: one Client per BMC, over net/http
// and encoding/json.
//
// It does service-root discovery, HTTP basic and session authentication (one
// session per BMC reused across polls, a new login on 401, logout on Close,
// basic auth when the BMC has no session slot left or no SessionService),
// per-request timeouts, retries with backoff for idempotent requests, and
// bounds the requests in flight per BMC and, through a shared Limiter, over
// all BMCs. It turns what broken BMCs send (HTML error pages, truncated or
// malformed JSON, Redfish error bodies with status 200, redirect loops) into
// errors that name the method and path.
//
// It must not know about metrics, resources or vendors: it moves bytes and
// decodes JSON. It never logs, returns or records the password or the session
// token.
package client

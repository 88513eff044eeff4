// Package acceptance holds the alerter's acceptance tests and figures at
// the level a user meets them: the real fleetwatch binary (built by the
// tests) run with `fleetwatch serve`, killed with SIGKILL and restarted on
// the same data directory, fed through the Alertmanager API v2 and
// compared with Debian's prometheus-alertmanager on the same alert stream.
//
// It has no non-test code and must not grow any: it is not imported by
// fleetwatch. Its tests need the peers (prometheus-alertmanager) and fail
// under CI=true when they are missing.
package acceptance

// Package web is fleetwatch's on-call UI: the incidents list with filters
// and auto-refresh, the incident page (alerts, timeline, graphs of the
// alerts' series, acknowledge/resolve/note/silence, remediation approvals,
// link to the postmortem draft), silences, the fleet overview (sites →
// racks → servers coloured by health) and the health of targets and
// collectors. Pages are rendered on the server with html/template from
// files embedded in the binary; a small script adds auto-refresh and local
// times, and every page works without it. Every filter is in the URL, so
// links can be shared.
//
// Every POST form is read once before its handler (writer, login): a body
// over net/http's 10 MiB form limit (or a smaller http.MaxBytesReader limit
// the server sets) gets 413 naming the limit, a form that does not decode
// or holds a field name or value that is not valid UTF-8 gets 400 naming
// the field. /static/ answers 404 for a path that is not valid UTF-8 or
// not a valid fs path. EngineQuerier refuses PromQL past exprdepth's
// limits before the engine parses it.
//
// web reads through store.Reader, a Querier (PromQL), the inventory and a
// TargetLister; it changes state only through the Actions interface, which
// the alerter's engine implements. It must not write to the store, import
// the alerter or the postmortem package, keep package-level state, or
// render a secret (bearer tokens are checked, never shown).
package web

// Package app wires fleetwatch's components into the running server of
// `fleetwatch serve`: storage first, then the query engine, rules and
// collectors, then the HTTP server; stopped in the reverse order. It owns
// config reloads (SIGHUP, POST /-/reload): a reload that fails keeps the
// running configuration and says why in the log and in
// fleetwatch_config_last_reload_successful.
package app

// Package hostile attacks a running fleetwatch binary from outside, as a
// careless or malicious client would: malformed and fuzzed bodies on every
// POST endpoint, oversized requests, slowloris connections, path traversal
// on the routes that take a path or an id, and a hunt for configured
// secrets in everything fleetwatch writes or serves.
//
// Each test builds the binary (or uses $FLEETWATCH_BIN), starts it on a
// free loopback port with a config in a temporary directory, and checks
// only what a user can see: status codes, the GET APIs, /metrics, the UI,
// the log and /proc. It must not import fleetwatch's packages (a test of
// the binary, not of the Go API) and must not leave processes behind.
package hostile

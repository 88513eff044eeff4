// Package incidentapi serves fleetwatch's incidents over HTTP — list and
// filter, show with alerts, timeline and remediation runs, acknowledge,
// resolve, add a note, approve a remediation — with bearer tokens from a
// file (read or write scope), and holds the Client and RunCLI behind
// `fleetwatch incidents list|show|ack|resolve|note`.
//
// It must not change incidents except through the alerter engine (so every
// change reaches the timeline and the outbox), log or echo a token, or
// answer without authentication when a tokens file is configured.
package incidentapi

// Package sqlstore implements store.Store over database/sql, on SQLite
// (modernc.org/sqlite, pure Go, the embedded default) and on PostgreSQL
// (pgx through its database/sql driver) with one set of queries and one
// schema per dialect, versioned and applied at open.
//
// On SQLite the store keeps one writer connection (every Update, claim and
// finish goes through it, BEGIN IMMEDIATE, so writers never deadlock) and a
// pool of read-only connections that see the last commit (WAL mode). With
// synchronous=FULL a commit is on disk before Update returns: neither kill -9
// nor a power cut loses it. On PostgreSQL several fleetwatch processes may
// share one database: ClaimNotifications leases rows with FOR UPDATE SKIP
// LOCKED so two workers never send the same notification at once.
//
// It must not hold alerter logic (grouping, routing, timers), keep state in
// memory between calls beyond the connection pools, or log what it stores
// (timeline data and payloads may be sensitive): it stores and reads back.
package sqlstore

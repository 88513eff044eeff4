// Package storetest is the one test suite every store.Store implementation
// passes (SQLite and PostgreSQL alike): Run exercises every method,
// transactions, optimistic concurrency, the outbox's claims and leases,
// filters, ordering, JSON and time round trips. StartPostgres runs a real
// PostgreSQL server from the machine's packages for a test.
//
// It is imported by tests only. It must not depend on an implementation:
// the suite sees a store through the store package's interfaces alone.
package storetest

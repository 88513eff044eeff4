// Package store is the alerter's durable state: alerts, incidents, the
// timeline of every change, silences, the notification outbox and the
// remediation audit. It defines the data model and the Store interface;
// subpackage sqlstore implements it on SQLite (the embedded default) and
// PostgreSQL (several fleetwatch instances sharing the work), and
// subpackage storetest is the one test suite both must pass.
//
// Every change the alerter makes — an incident opened, an alert joined, a
// notification due — is written in one transaction (Store.Update), so a
// crash at any moment leaves either all of it or none of it. The store
// holds no logic of its own beyond keeping that promise; it never imports
// the alerter.
package store

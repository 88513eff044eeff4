// Package dashboards holds fleetwatch's Grafana dashboards: their
// definitions in Go (catalog.go), the JSON files Grafana's file provider
// loads (grafana/*.json, generated from the definitions with
// `go test ./dashboards -run TestGenerated -update`), the provisioning files
// for the dashboards and for a Prometheus and an Alertmanager datasource
// pointing at fleetwatch (provisioning/), and the expansion of Grafana's
// template variables and interval macros that the tests and the benchmark
// use to run every panel's queries against a live fleetwatch.
//
// It must not talk to Grafana, import the Grafana SDKs outside its tests,
// or hold state: every function is a pure transformation of its arguments.
package dashboards

// Package plugins holds fleetwatch's Grafana plugins; each lives in a folder
// of its own (fleetwatch-datasource: the backend datasource for incidents,
// timelines and incident metrics). This package itself has no code.
//
// Nothing outside plugins/ may import the plugins: they link the Grafana
// plugin SDK and Apache Arrow, which the fleetwatch binary must not carry.
package plugins

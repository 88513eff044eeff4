// Package fleetwatchdatasource is the folder of fleetwatch's Grafana
// datasource plugin: plugin.json, the frontend module (module.js, loaded
// by Grafana as is), the packaging script (package.sh, `make plugin`), the
// backend in fwds and its binary in cmd/gpx_fleetwatch. Its tests check
// that these pieces agree and that the zip has the layout Grafana installs.
//
// It holds no code the plugin runs, and nothing may import it.
package fleetwatchdatasource

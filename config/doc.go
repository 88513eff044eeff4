// Package config loads fleetwatch.yml: defaults first, then strict YAML
// (an unknown key is an error), then Validate, which checks every job and
// names the file, line and field of each problem (`file:line: field:
// problem`). It does not start anything; cmd/fleetwatch turns a Config into
// running components.
package config

// Package pipeline is the path every sample takes from a collector to storage:
// target labels and metric relabeling (prometheus model/relabel), the series
// cache that turns a repeated series into a storage reference and writes stale
// markers for series that vanish, and the embedded prometheus/tsdb with its
// retention and out-of-order settings.
//
// The pipeline knows nothing of rules, alerts or incidents. Subpackage promapi
// serves the Prometheus HTTP query API over what is stored here.
package pipeline

// Command gpx_fleetwatch is fleetwatch's Grafana backend datasource plugin
// binary: Grafana starts it (plugin.json "executable") and talks to it over
// the plugin protocol (hashicorp/go-plugin, gRPC).
package main

import (
	"log/slog"
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/plugins/fleetwatch-datasource/fwds"
)

func main() { os.Exit(run()) }

func run() int {
	// Grafana keeps the plugin's stderr in its own log.
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("plugin", fwds.PluginID)
	// The SDK serves the default registry on Grafana's plugin metrics
	// endpoint (/metrics/plugins/<id>).
	factory, err := fwds.NewFactory(fwds.Options{Logger: logger, Registerer: prometheus.DefaultRegisterer})
	if err != nil {
		logger.Error("start", "err", err)
		return 1
	}
	if err := datasource.Manage(fwds.PluginID, factory, datasource.ManageOpts{}); err != nil {
		logger.Error("plugin stopped", "err", err)
		return 1
	}
	return 0
}

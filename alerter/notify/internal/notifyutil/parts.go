package notifyutil

import (
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/alerter/notify"
)

// Parts are what every integration's notifier builds the same way: an
// HTTP client from its tls_config, the shared notify metrics, and a logger
// naming the integration.
type Parts struct {
	HTTP    *http.Client
	Logger  *slog.Logger
	Metrics *notify.Metrics
}

// NewParts builds the parts of integration's notifier. It registers (or
// reuses) the notify metrics on reg; reg and logger may be nil. Errors
// say "<integration> config: …".
func NewParts(integration string, tc TLSConfig, logger *slog.Logger, reg prometheus.Registerer) (Parts, error) {
	hc, err := NewHTTPClient(tc, "tls_config")
	if err != nil {
		return Parts{}, fmt.Errorf("%s config: %w", integration, err)
	}
	m, err := notify.NewMetrics(reg)
	if err != nil {
		return Parts{}, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return Parts{HTTP: hc, Logger: logger.With("integration", integration), Metrics: m}, nil
}

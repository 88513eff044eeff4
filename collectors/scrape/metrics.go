package scrape

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons a collection fails, the values of the reason label of
// fleetwatch_scrape_errors_total.
const (
	reasonRequest      = "request"       // connection refused, reset, DNS, TLS
	reasonTimeout      = "timeout"       // the collection's deadline passed
	reasonHTTPStatus   = "http_status"   // not 200
	reasonBodySize     = "body_size"     // over body_size_limit
	reasonDecompress   = "decompress"    // bad gzip stream
	reasonContentType  = "content_type"  // no parser for the Content-Type
	reasonParse        = "parse"         // malformed exposition or invalid labels
	reasonSampleLimit  = "sample_limit"  // over sample_limit
	reasonLabelLimit   = "label_limit"   // over a label_* limit
	reasonTargetConfig = "target_config" // the target's address or params are unusable
)

// metrics are the collector's own counters, labelled by job. They are shared by
// every Collector registered on the same Registerer.
type metrics struct {
	bytes      *prometheus.CounterVec
	samples    *prometheus.CounterVec
	duplicates *prometheus.CounterVec
	errors     *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_scrape_bytes_total",
			Help: "Bytes of exposition read from targets, after decompression.",
		}, []string{"job"}),
		samples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_scrape_samples_total",
			Help: "Samples parsed from targets and handed to the appender.",
		}, []string{"job"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_scrape_duplicate_samples_total",
			Help: "Samples dropped because the same series (and timestamp) appeared earlier in the same exposition.",
		}, []string{"job"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetwatch_scrape_errors_total",
			Help: "Failed collections by reason (request, timeout, http_status, body_size, decompress, content_type, parse, sample_limit, label_limit, target_config).",
		}, []string{"job", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	m.bytes, err = register(reg, m.bytes)
	if err != nil {
		return nil, err
	}
	m.samples, err = register(reg, m.samples)
	if err != nil {
		return nil, err
	}
	m.duplicates, err = register(reg, m.duplicates)
	if err != nil {
		return nil, err
	}
	m.errors, err = register(reg, m.errors)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the identical collector that an earlier
// Collector (another job) already registered on reg.
func register(reg prometheus.Registerer, c *prometheus.CounterVec) (*prometheus.CounterVec, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing, nil
		}
	}
	return nil, err
}

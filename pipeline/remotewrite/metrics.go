package remotewrite

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Writer's self-metrics, one series per queue
// (labels remote_name and url, as Prometheus' own remote-write metrics).
type metrics struct {
	reg                  prometheus.Registerer
	samplesSent          *prometheus.CounterVec
	samplesFailed        *prometheus.CounterVec
	samplesRetried       *prometheus.CounterVec
	samplesDropped       *prometheus.CounterVec
	samplesPending       *prometheus.GaugeVec
	bytesSent            *prometheus.CounterVec
	requests             *prometheus.CounterVec
	sendDuration         *prometheus.HistogramVec
	shards               *prometheus.GaugeVec
	highestSent          *prometheus.GaugeVec
	highestRead          *prometheus.GaugeVec
	walSegment           *prometheus.GaugeVec
	walSegmentsLost      *prometheus.CounterVec
	walCorruptions       *prometheus.CounterVec
	committedSegment     *prometheus.GaugeVec
	metadataSent         *prometheus.CounterVec
	metadataFailed       *prometheus.CounterVec
	positionWriteFailure *prometheus.CounterVec
}

var queueLabels = []string{"remote_name", "url"}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "fleetwatch", "remote_write"
	counter := func(name, help string, extra ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help},
			append(append([]string{}, queueLabels...), extra...))
	}
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: name, Help: help}, queueLabels)
	}
	m := &metrics{
		reg:            reg,
		samplesSent:    counter("samples_sent_total", "Samples the receiver acknowledged."),
		samplesFailed:  counter("samples_failed_total", "Samples dropped because the receiver rejected them with an error that is not worth retrying (4xx)."),
		samplesRetried: counter("samples_retried_total", "Samples sent again after a recoverable error (5xx, 429, connection error, timeout)."),
		samplesDropped: counter("samples_dropped_total", "Samples read from the WAL and not sent, by reason: relabel (write_relabel_configs dropped the series), unknown_series (no series record for the sample), native_histogram (not sent).", "reason"),
		samplesPending: gauge("samples_pending", "Samples read from the WAL and handed to the shards, not yet acknowledged."),
		bytesSent:      counter("sent_bytes_total", "Compressed bytes of acknowledged write requests."),
		requests:       counter("requests_total", "Write requests by outcome: success, retried, failed.", "outcome"),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: sub, Name: "send_duration_seconds",
			Help:    "Duration of one write request, successful or not.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, queueLabels),
		shards:               gauge("shards", "Senders running in parallel."),
		highestSent:          gauge("highest_sent_timestamp_seconds", "Newest sample timestamp the receiver acknowledged, in seconds since the epoch."),
		highestRead:          gauge("highest_read_timestamp_seconds", "Newest sample timestamp read from the WAL, in seconds since the epoch; minus highest_sent is the delay."),
		walSegment:           gauge("wal_segment", "WAL segment being read."),
		committedSegment:     gauge("committed_segment", "WAL segment of the saved position: everything before it was acknowledged."),
		walSegmentsLost:      counter("wal_segments_lost_total", "WAL segments the TSDB deleted before they were read (a receiver outage longer than the WAL keeps)."),
		walCorruptions:       counter("wal_corruptions_total", "WAL segments whose rest was skipped because a record could not be read."),
		metadataSent:         counter("metadata_sent_total", "Metric metadata entries the receiver acknowledged."),
		metadataFailed:       counter("metadata_failed_total", "Metric metadata entries that could not be sent before the next send_interval."),
		positionWriteFailure: counter("position_write_failures_total", "Failed writes of the position file."),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{
			m.samplesSent, m.samplesFailed, m.samplesRetried, m.samplesDropped, m.samplesPending,
			m.bytesSent, m.requests, m.sendDuration, m.shards, m.highestSent, m.highestRead,
			m.walSegment, m.committedSegment, m.walSegmentsLost, m.walCorruptions,
			m.metadataSent, m.metadataFailed, m.positionWriteFailure,
		} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// queueMetrics are the series of one queue.
type queueMetrics struct {
	samplesSent, samplesFailed, samplesRetried  prometheus.Counter
	droppedRelabel, droppedUnknown, droppedHist prometheus.Counter
	samplesPending                              prometheus.Gauge
	bytesSent                                   prometheus.Counter
	reqSuccess, reqRetried, reqFailed           prometheus.Counter
	sendDuration                                prometheus.Observer
	shards, highestSent, highestRead            prometheus.Gauge
	walSegment, committedSegment                prometheus.Gauge
	walSegmentsLost, walCorruptions             prometheus.Counter
	metadataSent, metadataFailed                prometheus.Counter
	positionWriteFailure                        prometheus.Counter
}

func (m *metrics) forQueue(name, url string) *queueMetrics {
	l := []string{name, url}
	return &queueMetrics{
		samplesSent:          m.samplesSent.WithLabelValues(l...),
		samplesFailed:        m.samplesFailed.WithLabelValues(l...),
		samplesRetried:       m.samplesRetried.WithLabelValues(l...),
		droppedRelabel:       m.samplesDropped.WithLabelValues(name, url, "relabel"),
		droppedUnknown:       m.samplesDropped.WithLabelValues(name, url, "unknown_series"),
		droppedHist:          m.samplesDropped.WithLabelValues(name, url, "native_histogram"),
		samplesPending:       m.samplesPending.WithLabelValues(l...),
		bytesSent:            m.bytesSent.WithLabelValues(l...),
		reqSuccess:           m.requests.WithLabelValues(name, url, "success"),
		reqRetried:           m.requests.WithLabelValues(name, url, "retried"),
		reqFailed:            m.requests.WithLabelValues(name, url, "failed"),
		sendDuration:         m.sendDuration.WithLabelValues(l...),
		shards:               m.shards.WithLabelValues(l...),
		highestSent:          m.highestSent.WithLabelValues(l...),
		highestRead:          m.highestRead.WithLabelValues(l...),
		walSegment:           m.walSegment.WithLabelValues(l...),
		committedSegment:     m.committedSegment.WithLabelValues(l...),
		walSegmentsLost:      m.walSegmentsLost.WithLabelValues(l...),
		walCorruptions:       m.walCorruptions.WithLabelValues(l...),
		metadataSent:         m.metadataSent.WithLabelValues(l...),
		metadataFailed:       m.metadataFailed.WithLabelValues(l...),
		positionWriteFailure: m.positionWriteFailure.WithLabelValues(l...),
	}
}

// deleteQueue removes a stopped queue's series.
func (m *metrics) deleteQueue(name, url string) {
	match := prometheus.Labels{"remote_name": name, "url": url}
	m.samplesSent.DeletePartialMatch(match)
	m.samplesFailed.DeletePartialMatch(match)
	m.samplesRetried.DeletePartialMatch(match)
	m.samplesDropped.DeletePartialMatch(match)
	m.samplesPending.DeletePartialMatch(match)
	m.bytesSent.DeletePartialMatch(match)
	m.requests.DeletePartialMatch(match)
	m.sendDuration.DeletePartialMatch(match)
	m.shards.DeletePartialMatch(match)
	m.highestSent.DeletePartialMatch(match)
	m.highestRead.DeletePartialMatch(match)
	m.walSegment.DeletePartialMatch(match)
	m.committedSegment.DeletePartialMatch(match)
	m.walSegmentsLost.DeletePartialMatch(match)
	m.walCorruptions.DeletePartialMatch(match)
	m.metadataSent.DeletePartialMatch(match)
	m.metadataFailed.DeletePartialMatch(match)
	m.positionWriteFailure.DeletePartialMatch(match)
}

// unregister removes every collector (Writer closed).
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range []prometheus.Collector{
		m.samplesSent, m.samplesFailed, m.samplesRetried, m.samplesDropped, m.samplesPending,
		m.bytesSent, m.requests, m.sendDuration, m.shards, m.highestSent, m.highestRead,
		m.walSegment, m.committedSegment, m.walSegmentsLost, m.walCorruptions,
		m.metadataSent, m.metadataFailed, m.positionWriteFailure,
	} {
		m.reg.Unregister(c)
	}
}

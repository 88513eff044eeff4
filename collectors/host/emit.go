package host

import (
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// emitter writes samples straight into an Appender, reusing one
// ScratchBuilder and one Labels value for every series of a collection. The
// first Append error is kept and every later write is dropped, so the
// sub-collectors need not check each call.
type emitter struct {
	app collectors.Appender
	sb  labels.ScratchBuilder
	ls  labels.Labels
	err error
}

const (
	gauge   = model.MetricTypeGauge
	counter = model.MetricTypeCounter
)

// family records the HELP and TYPE of a metric family.
func (e *emitter) family(name string, typ model.MetricType, help string) {
	if e.err != nil {
		return
	}
	e.app.SetMetadata(name, metadata.Metadata{Type: typ, Help: help})
}

func (e *emitter) append(v float64) {
	e.sb.Sort()
	e.sb.Overwrite(&e.ls)
	if err := e.app.Append(e.ls, 0, v); err != nil {
		e.err = err
	}
}

// sample0 appends a series without labels.
func (e *emitter) sample0(name string, v float64) {
	if e.err != nil {
		return
	}
	e.sb.Reset()
	e.sb.Add(labels.MetricName, name)
	e.append(v)
}

// sample1 appends a series with one label.
func (e *emitter) sample1(name, l1, v1 string, v float64) {
	if e.err != nil {
		return
	}
	e.sb.Reset()
	e.sb.Add(labels.MetricName, name)
	e.sb.Add(l1, v1)
	e.append(v)
}

// sample2 appends a series with two labels.
func (e *emitter) sample2(name, l1, v1, l2, v2 string, v float64) {
	if e.err != nil {
		return
	}
	e.sb.Reset()
	e.sb.Add(labels.MetricName, name)
	e.sb.Add(l1, v1)
	e.sb.Add(l2, v2)
	e.append(v)
}

// sample3 appends a series with three labels.
func (e *emitter) sample3(name, l1, v1, l2, v2, l3, v3 string, v float64) {
	if e.err != nil {
		return
	}
	e.sb.Reset()
	e.sb.Add(labels.MetricName, name)
	e.sb.Add(l1, v1)
	e.sb.Add(l2, v2)
	e.sb.Add(l3, v3)
	e.append(v)
}

// sampleN appends a series with the label pairs of kv (name, value, ...).
func (e *emitter) sampleN(name string, kv []string, v float64) {
	if e.err != nil {
		return
	}
	e.sb.Reset()
	e.sb.Add(labels.MetricName, name)
	for i := 0; i+1 < len(kv); i += 2 {
		e.sb.Add(kv[i], kv[i+1])
	}
	e.append(v)
}

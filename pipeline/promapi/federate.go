package promapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"google.golang.org/protobuf/proto"
)

// federateSample is the latest float sample of one series.
type federateSample struct {
	lset labels.Labels
	t    int64
	f    float64
}

// federate serves /federate: for every series matched by a match[]
// selector, its latest float sample within the lookback delta, in the text
// exposition format, grouped by metric name, with an empty instance label
// added where the series has none — as Prometheus does. Native histograms
// are left out, as the text format cannot carry them.
func (a *API) federate(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		e := formError(err)
		http.Error(w, e.err.Error(), e.status())
		return
	}
	sets, err := parseSelectors(a.parser, r.Form["match[]"])
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := a.now()
	mint := timestamp.FromTime(now.Add(-a.lookbackDelta))
	maxt := timestamp.FromTime(now)

	q, err := a.queryable.Querier(mint, maxt)
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, tsdb.ErrNotReady) {
			code = http.StatusServiceUnavailable
		}
		http.Error(w, err.Error(), code)
		return
	}
	defer q.Close()

	hints := &storage.SelectHints{Start: mint, End: maxt}
	var all []storage.SeriesSet
	for _, ms := range sets {
		all = append(all, q.Select(r.Context(), true, hints, ms...))
	}
	set := storage.NewMergeSeriesSet(all, 0, storage.ChainedSeriesMerge)
	var (
		vec []federateSample
		it  chunkenc.Iterator
	)
	for set.Next() {
		s := set.At()
		it = s.Iterator(it)
		found := false
		var smp federateSample
		for vt := it.Seek(mint); vt != chunkenc.ValNone; vt = it.Next() {
			if vt != chunkenc.ValFloat {
				continue
			}
			t, f := it.At()
			if t > maxt {
				break
			}
			smp.t, smp.f, found = t, f, true
		}
		if err := it.Err(); err != nil {
			http.Error(w, fmt.Sprintf("series %s: %v", s.Labels(), err), http.StatusInternalServerError)
			return
		}
		// The exposition format has no stale markers: a series that went
		// stale is left out.
		if !found || value.IsStaleNaN(smp.f) {
			continue
		}
		smp.lset = s.Labels()
		vec = append(vec, smp)
	}
	if ws := set.Warnings(); len(ws) > 0 {
		a.logger.Debug("federate select returned warnings", "warnings", ws.AsErrors())
	}
	if err := set.Err(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	slices.SortStableFunc(vec, func(x, y federateSample) int {
		return strings.Compare(x.lset.Get(labels.MetricName), y.lset.Get(labels.MetricName))
	})

	format := expfmt.NewFormat(expfmt.TypeTextPlain)
	w.Header().Set("Content-Type", string(format))
	enc := expfmt.NewEncoder(w, format)
	var fam *dto.MetricFamily
	for _, smp := range vec {
		name := smp.lset.Get(labels.MetricName)
		if name == "" {
			a.logger.Warn("ignoring nameless series during federation", "series", smp.lset.String())
			continue
		}
		if fam == nil || fam.GetName() != name {
			if fam != nil {
				if err := enc.Encode(fam); err != nil {
					a.logger.Error("federate: encode", "metric", fam.GetName(), "err", err)
					return
				}
			}
			fam = &dto.MetricFamily{Name: proto.String(name), Type: dto.MetricType_UNTYPED.Enum()}
		}
		m := &dto.Metric{TimestampMs: proto.Int64(smp.t), Untyped: &dto.Untyped{Value: proto.Float64(smp.f)}}
		hasInstance := false
		smp.lset.Range(func(l labels.Label) {
			if l.Name == labels.MetricName || l.Value == "" {
				return
			}
			if l.Name == model.InstanceLabel {
				hasInstance = true
			}
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(l.Name), Value: proto.String(l.Value)})
		})
		if !hasInstance {
			m.Label = append(m.Label, &dto.LabelPair{Name: proto.String(model.InstanceLabel), Value: proto.String("")})
		}
		fam.Metric = append(fam.Metric, m)
	}
	if fam != nil {
		if err := enc.Encode(fam); err != nil {
			a.logger.Error("federate: encode", "metric", fam.GetName(), "err", err)
		}
	}
}

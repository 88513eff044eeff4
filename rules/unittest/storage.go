package unittest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// point is one input sample.
type point struct {
	t int64
	f float64
	h *histogram.FloatHistogram
}

// lazyStorage is the equivalent of promqltest.LazyLoader (which imports
// package testing): input series parsed with ParseSeriesDesc, appended to a
// throw-away TSDB up to each evaluation time, as promtool does.
type lazyStorage struct {
	db      *tsdb.DB
	dir     string
	engine  *promql.Engine
	ctx     context.Context
	cancel  context.CancelFunc
	pending map[uint64][]point
	metrics map[uint64]labels.Labels
}

func newLazyStorage(tg *testGroup, p parser.Parser, subqueryInterval time.Duration, start time.Time) (*lazyStorage, error) {
	s := &lazyStorage{pending: map[uint64][]point{}, metrics: map[uint64]labels.Labels{}}
	gap := time.Duration(tg.Interval)
	for i, in := range tg.InputSeries {
		m, vals, err := p.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			return nil, fmt.Errorf("input_series[%d] %q: %w", i, in.Series, err)
		}
		pts := make([]point, 0, len(vals))
		ts := start
		for _, v := range vals {
			if !v.Omitted {
				pts = append(pts, point{t: ts.UnixMilli(), f: v.Value, h: v.Histogram})
			}
			ts = ts.Add(gap)
		}
		h := m.Hash()
		s.pending[h] = pts
		s.metrics[h] = m
	}

	dir, err := os.MkdirTemp("", "fleetwatch-rules-test")
	if err != nil {
		return nil, fmt.Errorf("test storage: %w", err)
	}
	opts := tsdb.DefaultOptions()
	opts.MinBlockDuration = int64(24 * time.Hour / time.Millisecond)
	opts.MaxBlockDuration = opts.MinBlockDuration
	opts.RetentionDuration = 0
	opts.WALSegmentSize = -1 // no WAL: the data is thrown away
	db, err := tsdb.Open(dir, nil, nil, opts, tsdb.NewDBStats())
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("test storage: %w", err)
	}
	s.db, s.dir = db, dir
	s.engine = promql.NewEngine(promql.EngineOpts{
		MaxSamples:               10000,
		Timeout:                  100 * time.Second,
		NoStepSubqueryIntervalFn: func(int64) int64 { return subqueryInterval.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
		Parser:                   p,
	})
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// appendTill appends the input samples with timestamps up to ts.
func (s *lazyStorage) appendTill(ts time.Time) error {
	till := ts.UnixMilli()
	app := s.db.AppenderV2(s.ctx)
	for h, pts := range s.pending {
		m := s.metrics[h]
		n := 0
		for _, p := range pts {
			if p.t > till {
				break
			}
			var err error
			if p.h != nil {
				_, err = app.Append(0, m, 0, p.t, 0, nil, p.h, storage.AppendV2Options{})
			} else {
				_, err = app.Append(0, m, 0, p.t, p.f, nil, nil, storage.AppendV2Options{})
			}
			if err != nil {
				_ = app.Rollback()
				return fmt.Errorf("series %s: %w", m, err)
			}
			n++
		}
		s.pending[h] = pts[n:]
	}
	return app.Commit()
}

func (s *lazyStorage) close() error {
	s.cancel()
	err := errors.Join(s.engine.Close(), s.db.Close())
	return errors.Join(err, os.RemoveAll(s.dir))
}

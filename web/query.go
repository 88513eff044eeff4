package web

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/pipeline/promapi/exprdepth"
)

// Point is one sample.
type Point struct {
	T time.Time
	V float64
}

// Series is one labelled series of a query result.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Querier runs PromQL for the UI: instant queries (fleet health) and range
// queries (incident graphs). Results are the UI's own copies.
type Querier interface {
	Query(ctx context.Context, expr string, ts time.Time) ([]Series, error)
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
}

// EngineQuerier runs queries with the PromQL engine over q (the embedded
// TSDB: pipeline.Store is a storage.Queryable). Expressions past
// exprdepth's default limits (an alert's generator URL may carry any) are
// refused before the engine parses them.
func EngineQuerier(engine *promql.Engine, q storage.Queryable) Querier {
	return engineQuerier{engine: engine, q: q}
}

type engineQuerier struct {
	engine *promql.Engine
	q      storage.Queryable
}

func (e engineQuerier) Query(ctx context.Context, expr string, ts time.Time) ([]Series, error) {
	if err := exprdepth.Check(expr); err != nil {
		return nil, fmt.Errorf("query %.80q: %w", expr, err)
	}
	qry, err := e.engine.NewInstantQuery(ctx, e.q, nil, expr, ts)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer qry.Close()
	return convert(expr, qry.Exec(ctx))
}

func (e engineQuerier) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	if err := exprdepth.Check(expr); err != nil {
		return nil, fmt.Errorf("query %.80q: %w", expr, err)
	}
	qry, err := e.engine.NewRangeQuery(ctx, e.q, nil, expr, start, end, step)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, err)
	}
	defer qry.Close()
	return convert(expr, qry.Exec(ctx))
}

func convert(expr string, res *promql.Result) ([]Series, error) {
	if res.Err != nil {
		return nil, fmt.Errorf("query %q: %w", expr, res.Err)
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			out = append(out, Series{Labels: s.Metric.Map(), Points: []Point{{T: time.UnixMilli(s.T), V: s.F}}})
		}
		return out, nil
	case promql.Matrix:
		out := make([]Series, 0, len(v))
		for _, s := range v {
			pts := make([]Point, 0, len(s.Floats))
			for _, f := range s.Floats {
				pts = append(pts, Point{T: time.UnixMilli(f.T), V: f.F})
			}
			out = append(out, Series{Labels: s.Metric.Map(), Points: pts})
		}
		return out, nil
	case promql.Scalar:
		return []Series{{Labels: map[string]string{}, Points: []Point{{T: time.UnixMilli(v.T), V: v.V}}}}, nil
	default:
		return nil, fmt.Errorf("query %q: result of type %s cannot be shown", expr, res.Value.Type())
	}
}

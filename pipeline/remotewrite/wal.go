package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// pollInterval is how often the reader looks for new WAL records once it
// has read everything (the TSDB gives no notification).
const pollInterval = 100 * time.Millisecond

// errNoWAL is returned while the WAL directory has no segment yet.
var errNoWAL = errors.New("the WAL has no segment yet")

// readMode says what a pass over WAL records does with samples.
type readMode int

const (
	seriesOnly  readMode = iota // only series records (rebuilding the cache)
	sendAll                     // send every sample (tailing)
	sendMissing                 // send samples newer than the series' last one (a checkpoint after lost segments)
)

// recordSource is what wlog.Reader and wlog.LiveReader have in common.
type recordSource interface {
	Next() bool
	Record() []byte
	Err() error
	Offset() int64
}

// endOfWAL is the position after the last complete record of the WAL.
func endOfWAL(walDir string) (Position, error) {
	_, last, err := wlog.Segments(walDir)
	if err != nil {
		return Position{}, fmt.Errorf("WAL %s: %w", walDir, err)
	}
	if last < 0 {
		return Position{}, nil
	}
	f, err := wlog.OpenReadSegment(wlog.SegmentName(walDir, last))
	if err != nil {
		return Position{}, fmt.Errorf("WAL %s: %w", walDir, err)
	}
	defer f.Close()
	r := wlog.NewLiveReader(nil, wlog.NewLiveReaderMetrics(nil), f)
	end := int64(0)
	for r.Next() {
		end = r.Offset()
	}
	return Position{Segment: last, Offset: end}, nil
}

// tail reads the WAL from start until ctx ends, restarting from the last
// record read after an error.
func (q *queue) tail(ctx, sendCtx context.Context, start Position) {
	pos := start
	for {
		err := q.readFrom(ctx, sendCtx, pos)
		if ctx.Err() != nil {
			return
		}
		if !errors.Is(err, errNoWAL) {
			q.logger.Error("reading the WAL, starting again in 5s", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
		q.tracker.mu.Lock()
		pos = q.tracker.read
		q.tracker.mu.Unlock()
	}
}

// readFrom rebuilds the series cache from everything before pos, then
// sends the samples from pos on, following new segments as the TSDB cuts
// them.
func (q *queue) readFrom(ctx, sendCtx context.Context, pos Position) error {
	first, last, err := wlog.Segments(q.walDir)
	if err != nil {
		return fmt.Errorf("WAL %s: %w", q.walDir, err)
	}
	if first < 0 {
		return errNoWAL
	}
	if pos.Segment > last {
		q.logger.Warn("the saved position is past the end of the WAL (was the data directory replaced?); sending the whole WAL",
			"position", pos.String(), "last_segment", last)
		pos = Position{Segment: first}
	}
	q.series = make(map[chunks.HeadSeriesRef]*seriesEntry)
	cp, cpIdx, err := wlog.LastCheckpoint(q.walDir)
	if err != nil && !errors.Is(err, record.ErrNotFound) {
		return fmt.Errorf("WAL %s: %w", q.walDir, err)
	}
	q.lastCheckpoint = cp
	if pos.Segment < first {
		if err := q.recoverLost(ctx, pos, first, cp, cpIdx); err != nil {
			return err
		}
		pos = Position{Segment: first}
	} else if cp != "" {
		if err := q.readDir(ctx, cp, cpIdx, seriesOnly, pos); err != nil {
			return err
		}
	}
	if pos.Segment > first {
		r, err := wlog.NewSegmentsRangeReader(wlog.SegmentRange{Dir: q.walDir, First: first, Last: pos.Segment - 1})
		if err != nil {
			return fmt.Errorf("WAL %s: %w", q.walDir, err)
		}
		err = q.readRecords(ctx, wlog.NewReader(r), -1, seriesOnly, pos, nil)
		r.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("WAL %s: segments %d-%d: %w", q.walDir, first, pos.Segment-1, err)
		}
	}
	q.tracker.advance(pos)
	for seg := pos.Segment; ; seg++ {
		skip := int64(0)
		if seg == pos.Segment {
			skip = pos.Offset
		}
		next, err := q.tailSegment(ctx, sendCtx, seg, skip)
		if err != nil || ctx.Err() != nil {
			return err
		}
		seg = next - 1
		q.tracker.advance(Position{Segment: next})
		q.collectGarbage(ctx, next)
	}
}

// recoverLost handles segments deleted by the TSDB before they were read:
// the checkpoint that replaced them still holds the samples that are in the
// TSDB's head, and those newer than what was already read are sent.
func (q *queue) recoverLost(ctx context.Context, pos Position, first int, cp string, cpIdx int) error {
	q.m.walSegmentsLost.Add(float64(first - pos.Segment))
	q.logger.Error("WAL segments were deleted before they were sent: the receiver was unreachable for longer than the WAL keeps samples",
		"position", pos.String(), "first_segment", first)
	if cp == "" {
		return nil
	}
	mode := seriesOnly
	if cpIdx >= pos.Segment {
		mode = sendMissing
	}
	return q.readDir(ctx, cp, cpIdx, mode, pos)
}

// readDir reads a checkpoint directory.
func (q *queue) readDir(ctx context.Context, dir string, idx int, mode readMode, pos Position) error {
	r, err := wlog.NewSegmentsReader(dir)
	if err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	defer r.Close()
	var shards *shardSet
	if mode != seriesOnly {
		shards = q.shards
	}
	err = q.readRecords(ctx, wlog.NewReader(r), idx, mode, pos, shards)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return nil
}

// tailSegment reads segment seg until a newer segment exists and seg has
// been read to its end; it returns the segment to read next.
func (q *queue) tailSegment(ctx, sendCtx context.Context, seg int, skip int64) (int, error) {
	f, err := wlog.OpenReadSegment(wlog.SegmentName(q.walDir, seg))
	if errors.Is(err, os.ErrNotExist) {
		first, _, err := wlog.Segments(q.walDir)
		if err != nil {
			return 0, fmt.Errorf("WAL %s: %w", q.walDir, err)
		}
		if first > seg {
			cp, cpIdx, err := wlog.LastCheckpoint(q.walDir)
			if err != nil && !errors.Is(err, record.ErrNotFound) {
				return 0, fmt.Errorf("WAL %s: %w", q.walDir, err)
			}
			q.lastCheckpoint = cp
			return first, q.recoverLost(ctx, Position{Segment: seg}, first, cp, cpIdx)
		}
		return 0, fmt.Errorf("WAL %s: segment %d: %w", q.walDir, seg, err)
	}
	if err != nil {
		return 0, fmt.Errorf("WAL %s: segment %d: %w", q.walDir, seg, err)
	}
	defer f.Close()
	q.m.walSegment.Set(float64(seg))
	q.recEnd = 0
	r := wlog.NewLiveReader(q.logger, q.readerMetrics, f)
	start := Position{Segment: seg, Offset: skip}
	for {
		_, last, err := wlog.Segments(q.walDir)
		if err != nil {
			return 0, fmt.Errorf("WAL %s: %w", q.walDir, err)
		}
		newer := last > seg
		err = q.readRecords(ctx, r, seg, sendAll, start, q.shards)
		if ctx.Err() != nil {
			return 0, nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			if !newer {
				return 0, fmt.Errorf("WAL %s: segment %d at %d: %w", q.walDir, seg, r.Offset(), err)
			}
			q.m.walCorruptions.Inc()
			q.logger.Error("skipping the rest of a corrupt WAL segment", "segment", seg, "offset", r.Offset(), "err", err)
		}
		if newer {
			return seg + 1, nil
		}
		if !q.shards.flushOld(ctx, time.Now(), false) || !q.maybeReshard(ctx, sendCtx) {
			return 0, nil
		}
		select {
		case <-ctx.Done():
			return 0, nil
		case <-time.After(pollInterval):
		}
	}
}

// readRecords processes the records of r. seg is the segment r reads (-1
// for finished segments read for their series, the checkpoint's index for
// a checkpoint); records of segment pos.Segment before pos.Offset are read
// for their series only.
func (q *queue) readRecords(ctx context.Context, r recordSource, seg int, mode readMode, pos Position, shards *shardSet) error {
	dec := record.NewDecoder(labels.NewSymbolTable(), q.logger)
	lastCheck := time.Now()
	n := 0
	for r.Next() {
		rec := r.Record()
		recStart := Position{Segment: seg, Offset: q.recEnd}
		if seg < 0 || mode == sendMissing {
			recStart = pos
		}
		skipped := mode == seriesOnly || (seg == pos.Segment && recStart.Offset < pos.Offset)
		switch dec.Type(rec) {
		case record.Series:
			series, err := dec.Series(rec, q.seriesBuf[:0])
			if err != nil {
				return fmt.Errorf("series record: %w", err)
			}
			q.seriesBuf = series
			for _, s := range series {
				q.storeSeries(s, max(seg, 0))
			}
		case record.Samples, record.SamplesV2:
			if skipped {
				break
			}
			samples, err := dec.Samples(rec, q.samplesBuf[:0])
			if err != nil {
				return fmt.Errorf("samples record: %w", err)
			}
			q.samplesBuf = samples
			if !q.sendSamples(ctx, samples, mode, recStart, shards) {
				return nil
			}
		case record.HistogramSamples, record.CustomBucketsHistogramSamples, record.HistogramSamplesV2,
			record.FloatHistogramSamples, record.CustomBucketsFloatHistogramSamples, record.FloatHistogramSamplesV2:
			if !skipped {
				q.m.droppedHist.Inc()
			}
		}
		if seg >= 0 && mode == sendAll {
			q.recEnd = r.Offset()
			q.tracker.advance(Position{Segment: seg, Offset: q.recEnd})
		}
		if n++; n%1024 == 0 && shards != nil && time.Since(lastCheck) > time.Second {
			lastCheck = time.Now()
			if !shards.flushOld(ctx, lastCheck, false) {
				return nil
			}
		}
	}
	return r.Err()
}

func (q *queue) sendSamples(ctx context.Context, samples []record.RefSample, mode readMode, recStart Position, shards *shardSet) bool {
	var highest int64 = math.MinInt64
	for _, s := range samples {
		e := q.series[s.Ref]
		if e == nil {
			q.m.droppedUnknown.Inc()
			continue
		}
		if mode == sendMissing && s.T <= e.lastT {
			continue
		}
		e.lastT = max(e.lastT, s.T)
		highest = max(highest, s.T)
		if e.labels == nil {
			q.m.droppedRelabel.Inc()
			continue
		}
		if !shards.add(ctx, uint64(s.Ref), sample{s: e, t: s.T, v: s.V}, recStart) {
			return false
		}
	}
	if highest > q.highestRead {
		q.highestRead = highest
		q.m.highestRead.Set(float64(highest) / 1000)
	}
	return true
}

// storeSeries caches a series as the receiver will see it. An entry is
// never changed once a batch may point at it: a new record makes a new one.
func (q *queue) storeSeries(s record.RefSeries, seg int) {
	e := &seriesEntry{seg: seg, lastT: math.MinInt64}
	if old := q.series[s.Ref]; old != nil {
		if old.seg > seg {
			e.seg = old.seg
		}
		e.lastT = old.lastT
	}
	q.lb.Reset(s.Labels)
	q.externalLabels.Range(func(l labels.Label) {
		if q.lb.Get(l.Name) == "" {
			q.lb.Set(l.Name, l.Value)
		}
	})
	if relabel.ProcessBuilder(q.lb, q.cfg.WriteRelabelConfigs...) {
		ls := q.lb.Labels()
		if ls.Len() > 0 {
			e.labels = make([]prompb.Label, 0, ls.Len())
			ls.Range(func(l labels.Label) {
				e.labels = append(e.labels, prompb.Label{Name: l.Name, Value: l.Value})
			})
		}
	}
	q.series[s.Ref] = e
}

// collectGarbage forgets the series the TSDB dropped from its head: after a
// new checkpoint, the series last recorded before it and absent from it.
func (q *queue) collectGarbage(ctx context.Context, seg int) {
	cp, idx, err := wlog.LastCheckpoint(q.walDir)
	if err != nil || cp == q.lastCheckpoint || idx >= seg {
		return
	}
	r, err := wlog.NewSegmentsReader(cp)
	if err != nil {
		q.logger.Warn("reading a new checkpoint", "checkpoint", cp, "err", err)
		return
	}
	defer r.Close()
	rr := wlog.NewReader(r)
	dec := record.NewDecoder(labels.NewSymbolTable(), q.logger)
	for rr.Next() && ctx.Err() == nil {
		if dec.Type(rr.Record()) != record.Series {
			continue
		}
		series, err := dec.Series(rr.Record(), q.seriesBuf[:0])
		if err != nil {
			q.logger.Warn("reading a new checkpoint", "checkpoint", cp, "err", err)
			return
		}
		q.seriesBuf = series
		for _, s := range series {
			if e := q.series[s.Ref]; e != nil && e.seg < idx {
				e.seg = idx
			}
		}
	}
	for ref, e := range q.series {
		if e.seg < idx {
			delete(q.series, ref)
		}
	}
	q.lastCheckpoint = cp
}

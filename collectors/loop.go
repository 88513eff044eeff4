package collectors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/pipeline"
)

// abandonGrace is how long past its timeout a collector that ignores ctx is
// waited for before its collection is abandoned (and counted as failed).
const abandonGrace = time.Second

type targetLoop struct {
	s      *Scheduler
	target Target

	mu       sync.Mutex
	job      *Job
	cancel   context.CancelFunc
	done     chan struct{}
	busy     chan struct{} // non-nil while an abandoned collection still runs
	health   string
	lastErr  string
	lastTime time.Time
	lastDur  time.Duration

	cache       *pipeline.SeriesCache // the collector's series
	reportCache *pipeline.SeriesCache // up, scrape_duration_seconds, …
}

func newTargetLoop(s *Scheduler, j *Job, t Target) *targetLoop {
	return &targetLoop{
		s:           s,
		job:         j,
		target:      t,
		health:      "unknown",
		done:        make(chan struct{}),
		cache:       pipeline.NewSeriesCache(),
		reportCache: pipeline.NewSeriesCache(),
	}
}

func (l *targetLoop) setJob(j *Job) {
	l.mu.Lock()
	l.job = j
	l.mu.Unlock()
}

func (l *targetLoop) currentJob() *Job {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.job
}

// offset spreads targets over the interval, the same for a target every run.
func (l *targetLoop) offset(jobName string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\xff%s\xff%d", jobName, l.target.Address, l.target.Labels.Hash())
	now := l.s.o.Now()
	base := now.Truncate(interval)
	at := base.Add(time.Duration(h.Sum64() % uint64(interval)))
	if at.Before(now) {
		at = at.Add(interval)
	}
	return at.Sub(now)
}

// run collects until ctx is cancelled; the scheduler sets l.cancel before.
func (l *targetLoop) run(ctx context.Context) {
	defer close(l.done)
	job := l.currentJob()
	select {
	case <-time.After(l.offset(job.Name, job.Interval)):
	case <-ctx.Done():
		return
	}
	ticker := time.NewTicker(job.Interval)
	defer ticker.Stop()
	for {
		l.collectOnce(ctx)
		select {
		case <-ticker.C:
		case <-ctx.Done():
			return
		}
	}
}

// stop ends the loop; with markStale it also writes stale markers for all the
// target's series (the target went away).
func (l *targetLoop) stop(markStale bool) {
	l.mu.Lock()
	cancel := l.cancel
	l.mu.Unlock()
	if cancel == nil {
		return // never started
	}
	cancel()
	<-l.done
	if markStale {
		app := l.s.o.Storage.AppenderV2(context.Background())
		ts := l.s.o.Now().UnixMilli()
		pipeline.MarkAllStale(app, l.cache, ts)
		pipeline.MarkAllStale(app, l.reportCache, ts)
		if err := app.Commit(); err != nil {
			l.s.o.Logger.Warn("stale markers not written", "job", l.currentJob().Name, "target", l.target.Address, "err", err)
		}
	}
}

func (l *targetLoop) status() TargetStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return TargetStatus{
		Job: l.job.Name, Address: l.target.Address, Labels: l.target.Labels,
		Health: l.health, LastError: l.lastErr, LastCollection: l.lastTime, LastDuration: l.lastDur,
		Interval: l.job.Interval, Timeout: l.job.Timeout,
	}
}

// collectOnce runs one collection of the target and stores its samples and
// its report series (up, scrape_duration_seconds, …).
func (l *targetLoop) collectOnce(ctx context.Context) {
	job := l.currentJob()
	m := l.s.metrics
	// Wait for a concurrency slot, but never past the next tick.
	slotCtx, cancelSlot := context.WithTimeout(ctx, job.Interval)
	select {
	case l.s.sem <- struct{}{}:
		cancelSlot()
	case <-slotCtx.Done():
		cancelSlot()
		if ctx.Err() == nil {
			m.skipped.WithLabelValues(job.Name).Inc()
		}
		return
	}
	defer func() { <-l.s.sem }()

	start := l.s.o.Now()
	ts := start.UnixMilli()
	var (
		err    error
		result = &collection{}
	)
	if l.busy != nil {
		select {
		case <-l.busy:
			l.busy = nil
		default:
			err = errStillRunning
		}
	}
	if err == nil {
		result, err = l.collect(ctx, job, ts)
	}
	dur := l.s.o.Now().Sub(start)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // stopping: record nothing
	}

	m.duration.WithLabelValues(job.Name).Observe(dur.Seconds())
	m.collections.WithLabelValues(job.Name).Inc()
	if err != nil {
		m.errors.WithLabelValues(job.Name).Inc()
		l.s.o.Logger.Debug("collection failed", "job", job.Name, "target", l.target.Address, "err", err)
	} else {
		m.samples.WithLabelValues(job.Name).Add(float64(result.stored))
	}
	l.writeReport(job, ts, dur, err, result)

	l.mu.Lock()
	l.lastTime, l.lastDur = start, dur
	if err != nil {
		l.health, l.lastErr = "down", err.Error()
	} else {
		l.health, l.lastErr = "up", ""
	}
	l.mu.Unlock()
}

type collection struct {
	scraped, stored int
}

// collect calls the collector with a deadline. A collector that does not
// return within its timeout plus a grace period is abandoned: its appender is
// closed, so whatever it writes later is refused, and the target is not
// collected again until it returns.
func (l *targetLoop) collect(ctx context.Context, job *Job, ts int64) (*collection, error) {
	cctx, cancel := context.WithTimeout(ctx, job.Timeout)
	defer cancel()
	app := l.s.o.Storage.AppenderV2(cctx)
	batch := pipeline.NewBatch(app, l.cache, l.s.o.Metadata, pipeline.BatchOptions{
		TargetLabels:  l.target.Labels,
		HonorLabels:   job.HonorLabels,
		MetricRelabel: job.MetricRelabel,
		SampleLimit:   job.SampleLimit,
		Timestamp:     ts,
	})
	guard := &guardedAppender{next: batch}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("collector panicked: %v", r)
			}
		}()
		done <- job.Collector.Collect(cctx, l.target, guard)
	}()

	var err error
	select {
	case err = <-done:
	case <-time.After(job.Timeout + abandonGrace):
		guard.close()
		busy := make(chan struct{})
		go func() { <-done; close(busy) }()
		l.busy = busy
		err = fmt.Errorf("collector did not return within %v: %w", job.Timeout, context.DeadlineExceeded)
	}
	guard.close()
	res := &collection{scraped: batch.Scraped, stored: batch.Stored}
	if err == nil && cctx.Err() != nil {
		err = fmt.Errorf("collection timed out after %v: %w", job.Timeout, cctx.Err())
	}
	if err != nil {
		_ = batch.Rollback()
		stale := l.s.o.Storage.AppenderV2(ctx)
		pipeline.MarkAllStale(stale, l.cache, ts)
		_ = stale.Commit()
		return res, err
	}
	if err := batch.Commit(); err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	return res, nil
}

// writeReport stores the per-target series Prometheus users know: up,
// scrape_duration_seconds, scrape_samples_scraped and
// scrape_samples_post_metric_relabeling.
func (l *targetLoop) writeReport(job *Job, ts int64, dur time.Duration, err error, res *collection) {
	app := l.s.o.Storage.AppenderV2(context.Background())
	b := pipeline.NewBatch(app, l.reportCache, l.s.o.Metadata, pipeline.BatchOptions{TargetLabels: l.target.Labels, Timestamp: ts})
	up := 1.0
	if err != nil {
		up = 0
	}
	for _, s := range []struct {
		name string
		v    float64
		help string
	}{
		{"up", up, "1 if the target's last collection succeeded, 0 if it failed."},
		{"scrape_duration_seconds", dur.Seconds(), "Duration of the target's last collection."},
		{"scrape_samples_scraped", float64(res.scraped), "Samples the collector returned in the target's last collection."},
		{"scrape_samples_post_metric_relabeling", float64(res.stored), "Samples kept after metric relabeling in the target's last collection."},
	} {
		_ = b.Append(labels.FromStrings(labels.MetricName, s.name), 0, s.v)
		b.SetMetadata(s.name, metadata.Metadata{Type: "gauge", Help: s.help})
	}
	if err := b.Commit(); err != nil {
		l.s.o.Logger.Warn("target report not stored", "job", job.Name, "target", l.target.Address, "err", err)
	}
}

// guardedAppender refuses appends once closed, so a collector abandoned past
// its deadline cannot write into a batch that was already rolled back.
type guardedAppender struct {
	mu     sync.Mutex
	closed bool
	next   Appender
}

var errAppenderClosed = errors.New("collection already ended")

func (g *guardedAppender) Append(ls labels.Labels, t int64, v float64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return errAppenderClosed
	}
	return g.next.Append(ls, t, v)
}

func (g *guardedAppender) SetMetadata(family string, md metadata.Metadata) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.closed {
		g.next.SetMetadata(family, md)
	}
}

func (g *guardedAppender) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

var _ storage.AppendableV2 = (*pipeline.Store)(nil)

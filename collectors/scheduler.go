package collectors

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/storage"

	"github.com/fleetwatch/fleetwatch/pipeline"
)

// Job is a set of targets collected the same way.
type Job struct {
	Name      string
	Collector Collector
	Interval  time.Duration
	Timeout   time.Duration
	// HonorLabels, MetricRelabel and SampleLimit: see pipeline.BatchOptions.
	HonorLabels   bool
	MetricRelabel []*relabel.Config
	SampleLimit   int
	Targets       []Target
}

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	Storage storage.AppendableV2
	// Metadata receives the metric metadata collectors report (may be nil).
	Metadata *pipeline.MetadataStore
	// Concurrency bounds the collections running at once across all jobs
	// (0 = 64).
	Concurrency int
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Scheduler runs every target of every job at its job's interval. Each
// target has its own loop, spread over the interval by a stable offset, so a
// slow or failing target never delays another; a global semaphore bounds how
// many collections run at once.
type Scheduler struct {
	o       SchedulerOptions
	sem     chan struct{}
	metrics *schedulerMetrics

	mu    sync.Mutex
	ctx   context.Context // set by Run
	loops map[uint64]*targetLoop
	wg    sync.WaitGroup
}

// NewScheduler returns a scheduler with no jobs; call Update then Run.
func NewScheduler(o SchedulerOptions) *Scheduler {
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scheduler{
		o:       o,
		sem:     make(chan struct{}, o.Concurrency),
		metrics: newSchedulerMetrics(o.Registerer),
		loops:   map[uint64]*targetLoop{},
	}
}

// loopKey identifies a target across updates: a target whose job, address,
// labels, interval and timeout are unchanged keeps its loop (and its series
// cache, so no gap and no stale markers) and picks up the new job settings at
// its next collection.
func loopKey(j *Job, t Target) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\xff%s\xff%d\xff%d\xff%d", j.Name, t.Address, t.Labels.Hash(), j.Interval, j.Timeout)
	return h.Sum64()
}

// Update replaces the set of jobs: loops for new targets start (at once if
// the scheduler runs), loops for vanished targets stop and their series are
// marked stale.
func (s *Scheduler) Update(jobs []Job) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[uint64]bool{}
	perJob := map[string]int{}
	for i := range jobs {
		j := &jobs[i]
		perJob[j.Name] += len(j.Targets)
		for _, t := range j.Targets {
			k := loopKey(j, t)
			if seen[k] {
				s.o.Logger.Warn("duplicate target ignored", "job", j.Name, "target", t.Address, "labels", t.Labels.String())
				continue
			}
			seen[k] = true
			if l, ok := s.loops[k]; ok {
				l.setJob(j)
				continue
			}
			l := newTargetLoop(s, j, t)
			s.loops[k] = l
			if s.ctx != nil {
				s.start(l)
			}
		}
	}
	for k, l := range s.loops {
		if !seen[k] {
			delete(s.loops, k)
			l.stop(true)
		}
	}
	s.metrics.targets.Reset()
	for job, n := range perJob {
		s.metrics.targets.WithLabelValues(job).Set(float64(n))
	}
}

// start launches l's loop; s.mu must be held.
func (s *Scheduler) start(l *targetLoop) {
	ctx, cancel := context.WithCancel(s.ctx)
	l.mu.Lock()
	l.cancel = cancel
	l.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		l.run(ctx)
	}()
}

// Run starts every loop and blocks until ctx is cancelled, then stops them and
// waits for running collections to end.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	for _, l := range s.loops {
		s.start(l)
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	for _, l := range s.loops {
		l.stop(false)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// TargetStatus is what the scheduler knows of one target, for
// /api/v1/targets and the UI.
type TargetStatus struct {
	Job            string
	Address        string
	Labels         labels.Labels
	Health         string // "up", "down" or "unknown"
	LastError      string
	LastCollection time.Time
	LastDuration   time.Duration
	Interval       time.Duration
	Timeout        time.Duration
}

// Targets returns the status of every target, sorted by job and address.
func (s *Scheduler) Targets() []TargetStatus {
	s.mu.Lock()
	out := make([]TargetStatus, 0, len(s.loops))
	for _, l := range s.loops {
		out = append(out, l.status())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Job != out[j].Job {
			return out[i].Job < out[j].Job
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// errStillRunning is recorded when a collector ignored its deadline and the
// previous collection of the target has not returned yet.
var errStillRunning = errors.New("previous collection still running past its timeout")

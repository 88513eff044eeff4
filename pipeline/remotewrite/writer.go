package remotewrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
)

// DefaultFlushDeadline bounds how long a stopping queue keeps sending.
const DefaultFlushDeadline = time.Minute

// Options configures a Writer.
type Options struct {
	// Configs are the remote_write endpoints. Empty is valid (nothing sent).
	Configs []Config
	// WALDir is the embedded TSDB's write-ahead log, <storage.path>/wal.
	// Required.
	WALDir string
	// StateDir holds one <name>.position file per queue. Default
	// <WALDir>/../remote_write.
	StateDir string
	// ExternalLabels are added to every series that does not have them,
	// before write_relabel_configs (as Prometheus' global.external_labels).
	ExternalLabels labels.Labels
	// Metadata, if set, is sent every metadata_config.send_interval.
	Metadata MetadataSource
	// FlushDeadline bounds how long Run keeps sending after ctx ends;
	// what is left is sent after the next start. Default 1m.
	FlushDeadline time.Duration
	Logger        *slog.Logger
	// Registerer receives the fleetwatch_remote_write_* metrics. Nil
	// registers nothing.
	Registerer prometheus.Registerer
}

// Writer runs one queue per remote_write endpoint.
type Writer struct {
	o       Options
	logger  *slog.Logger
	metrics *metrics

	mu      sync.Mutex
	configs []Config
	queues  map[string]*runningQueue
	runCtx  context.Context // set while Run runs
}

type runningQueue struct {
	q      *queue
	cancel context.CancelFunc
	done   chan struct{}
}

// New validates the configs and creates the Writer. A queue that has no
// saved position yet starts at the current end of the WAL, recorded now:
// call New before anything appends to the TSDB so the first samples are
// sent too. New starts nothing; Run does.
func New(o Options) (*Writer, error) {
	if o.WALDir == "" {
		return nil, errors.New("remote_write: WAL directory is required")
	}
	if o.StateDir == "" {
		o.StateDir = filepath.Join(filepath.Dir(filepath.Clean(o.WALDir)), "remote_write")
	}
	if o.FlushDeadline <= 0 {
		o.FlushDeadline = DefaultFlushDeadline
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, fmt.Errorf("remote_write: registering metrics: %w", err)
	}
	w := &Writer{o: o, logger: o.Logger, metrics: m, queues: map[string]*runningQueue{}}
	if err := w.ApplyConfig(o.Configs); err != nil {
		m.unregister()
		return nil, err
	}
	return w, nil
}

// ValidateConfigs fills in defaults and checks cfgs, as ApplyConfig does,
// without changing anything (for `fleetwatch check config`).
func ValidateConfigs(cfgs []Config) ([]Config, error) {
	out := make([]Config, len(cfgs))
	names := map[string]int{}
	urls := map[string]int{}
	var errs []error
	for i := range cfgs {
		c := cfgs[i]
		if err := c.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("remote_write[%d]: %w", i, err))
			continue
		}
		if j, ok := names[c.Name]; ok {
			errs = append(errs, fmt.Errorf("remote_write[%d]: name %q is already used by remote_write[%d]", i, c.Name, j))
		}
		if j, ok := urls[c.URL]; ok && cfgs[i].Name == "" {
			errs = append(errs, fmt.Errorf("remote_write[%d]: url %s is already used by remote_write[%d]; give each a name", i, redactURL(c.URL), j))
		}
		names[c.Name], urls[c.URL] = i, i
		out[i] = c
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ApplyConfig replaces the endpoints. Invalid configs change nothing. A
// queue whose config is unchanged keeps running; a changed one stops (after
// flushing) and starts again from its saved position; a removed one stops
// and keeps its position file.
func (w *Writer) ApplyConfig(cfgs []Config) error {
	valid, err := ValidateConfigs(cfgs)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(w.o.StateDir, 0o755); err != nil {
		return fmt.Errorf("remote_write: state directory: %w", err)
	}
	// Build every new queue first so a bad one changes nothing.
	fresh := map[string]*queue{}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range valid {
		if rq, ok := w.queues[c.Name]; ok && reflect.DeepEqual(rq.q.cfg, c) {
			continue
		}
		q, err := w.newQueue(c)
		if err != nil {
			return err
		}
		fresh[c.Name] = q
	}
	keep := map[string]bool{}
	for _, c := range valid {
		keep[c.Name] = true
	}
	for name, rq := range w.queues {
		fq, changed := fresh[name]
		if !changed && keep[name] {
			continue
		}
		rq.cancel()
		<-rq.done
		delete(w.queues, name)
		if !changed || fq.cl.endpoint != rq.q.cl.endpoint {
			w.metrics.deleteQueue(name, rq.q.cl.endpoint)
		}
	}
	var startErrs []error
	for name, q := range fresh {
		// Read after the queue it replaces saved its last position.
		if err := q.loadPosition(); err != nil {
			startErrs = append(startErrs, err)
			continue
		}
		q.m = w.metrics.forQueue(name, q.cl.endpoint)
		rq := &runningQueue{q: q, done: make(chan struct{})}
		w.queues[name] = rq
		if w.runCtx != nil {
			w.start(rq)
		}
	}
	w.configs = valid
	return errors.Join(startErrs...)
}

func (w *Writer) newQueue(c Config) (*queue, error) {
	cl, err := newClient(&c)
	if err != nil {
		return nil, err
	}
	posPath := filepath.Join(w.o.StateDir, c.Name+".position")
	if _, _, err := readPosition(posPath); err != nil {
		return nil, fmt.Errorf("remote_write %q: %w", c.Name, err)
	}
	return &queue{
		cfg:            c,
		walDir:         w.o.WALDir,
		posPath:        posPath,
		externalLabels: w.o.ExternalLabels,
		logger:         w.logger.With("remote_name", c.Name, "url", cl.endpoint),
		cl:             cl,
		meta:           w.o.Metadata,
		flushDeadline:  w.o.FlushDeadline,
	}, nil
}

// loadPosition reads the saved position or, for a new queue, saves the
// current end of the WAL as its start.
func (q *queue) loadPosition() error {
	start, ok, err := readPosition(q.posPath)
	if err != nil {
		return fmt.Errorf("remote_write %q: %w", q.cfg.Name, err)
	}
	if !ok {
		start, err = endOfWAL(q.walDir)
		if err != nil {
			return fmt.Errorf("remote_write %q: %w", q.cfg.Name, err)
		}
		if err := writePosition(q.posPath, start); err != nil {
			return fmt.Errorf("remote_write %q: saving the start position: %w", q.cfg.Name, err)
		}
	}
	q.start, q.committed = start, start
	return nil
}

func (w *Writer) start(rq *runningQueue) {
	ctx, cancel := context.WithCancel(w.runCtx)
	rq.cancel = cancel
	rq.q.m.committedSegment.Set(float64(rq.q.start.Segment))
	rq.q.logger.Info("remote write queue starting", "position", rq.q.start.String())
	go func() {
		defer close(rq.done)
		rq.q.run(ctx)
	}()
}

// Run sends until ctx ends, then flushes every queue (bounded by the flush
// deadline), saves the positions and returns. It may be called once.
func (w *Writer) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.runCtx != nil {
		w.mu.Unlock()
		return errors.New("remote_write: Run called twice")
	}
	w.runCtx = ctx
	for _, rq := range w.queues {
		w.start(rq)
	}
	w.mu.Unlock()
	<-ctx.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, rq := range w.queues {
		<-rq.done
	}
	w.metrics.unregister()
	return nil
}

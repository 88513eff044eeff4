package remotewrite

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunks"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
)

// reshardInterval is how often the number of shards is reconsidered.
const reshardInterval = 10 * time.Second

// commitInterval is how often the acknowledged position is saved.
const commitInterval = time.Second

// MetadataSource gives the metric metadata to send (pipeline.MetadataStore
// implements it): metric "" and limit 0 mean all families.
type MetadataSource interface {
	Metadata(metric string, limit int) map[string][]metadata.Metadata
}

// queue is one remote_write endpoint: a WAL reader, its shards and the
// saved position.
type queue struct {
	cfg            Config
	walDir         string
	posPath        string
	externalLabels labels.Labels
	logger         *slog.Logger
	m              *queueMetrics
	cl             *client
	meta           MetadataSource
	flushDeadline  time.Duration
	start          Position

	// Shared with the shards.
	tracker      tracker
	stats        sendStats
	batchPool    sync.Pool
	highestSent  atomic.Int64
	lastRetryLog atomic.Int64

	// Owned by the WAL reader.
	shards         *shardSet
	series         map[chunks.HeadSeriesRef]*seriesEntry
	lb             *labels.Builder
	seriesBuf      []record.RefSeries
	samplesBuf     []record.RefSample
	recEnd         int64
	highestRead    int64
	lastCheckpoint string
	lastReshard    time.Time
	readerMetrics  *wlog.LiveReaderMetrics

	// Owned by the committer.
	committed Position
}

func (q *queue) client() *client { return q.cl }

// run sends until ctx ends, then hands what was read to the shards and
// waits up to the flush deadline for them before saving the position.
func (q *queue) run(ctx context.Context) {
	q.lb = labels.NewBuilder(labels.EmptyLabels())
	q.readerMetrics = wlog.NewLiveReaderMetrics(nil)
	q.lastReshard = time.Now()
	q.highestSent.Store(0)
	sendCtx, cancelSend := context.WithCancel(context.Background())
	defer cancelSend()
	q.shards = q.startShards(sendCtx, q.cfg.QueueConfig.MinShards, q.start)

	commitStop := make(chan struct{})
	commitDone := make(chan struct{})
	go func() {
		defer close(commitDone)
		t := time.NewTicker(commitInterval)
		defer t.Stop()
		for {
			select {
			case <-commitStop:
				return
			case <-t.C:
				q.commit()
			}
		}
	}()
	metaDone := make(chan struct{})
	go func() {
		defer close(metaDone)
		q.runMetadata(ctx)
	}()

	q.tail(ctx, sendCtx, q.start)

	flushCtx, cancelFlush := context.WithTimeout(context.Background(), q.flushDeadline)
	if !q.shards.drain(flushCtx) {
		q.logger.Warn("flush deadline passed: unsent samples stay in the WAL and are sent after the restart",
			"deadline", q.flushDeadline)
	}
	cancelFlush()
	cancelSend()
	q.shards.wg.Wait()
	<-metaDone
	close(commitStop)
	<-commitDone
	q.commit()
}

// commit saves the acknowledged position when it moved.
func (q *queue) commit() {
	p := q.tracker.committable()
	if p == q.committed {
		return
	}
	if err := writePosition(q.posPath, p); err != nil {
		q.m.positionWriteFailure.Inc()
		q.logger.Error("saving the position", "file", q.posPath, "err", err)
		return
	}
	q.committed = p
	q.m.committedSegment.Set(float64(p.Segment))
}

// maybeReshard adapts the number of shards every reshardInterval: more when
// the reader waited for busy shards, fewer when the shards are mostly idle,
// no change while requests fail (more senders would not help an outage).
// Changing drains the old shards first so each series stays in order.
func (q *queue) maybeReshard(ctx, sendCtx context.Context) bool {
	now := time.Now()
	interval := now.Sub(q.lastReshard)
	if interval < reshardInterval {
		return true
	}
	q.lastReshard = now
	busy := time.Duration(q.stats.busyNanos.Swap(0))
	blocked := time.Duration(q.stats.blockedNanos.Swap(0))
	failures := q.stats.failures.Swap(0)
	qc := q.cfg.QueueConfig
	n := len(q.shards.chans)
	desired := n
	if failures == 0 {
		util := float64(busy) / float64(interval) / float64(n)
		switch {
		case blocked > interval/10 && n < qc.MaxShards:
			desired = min(qc.MaxShards, n*2)
		case blocked == 0 && util < 0.2 && n > qc.MinShards:
			desired = max(qc.MinShards, n/2)
		}
	}
	if desired == n {
		return true
	}
	q.logger.Info("resharding", "from", n, "to", desired)
	if !q.shards.drain(ctx) {
		return false
	}
	q.tracker.mu.Lock()
	read := q.tracker.read
	q.tracker.mu.Unlock()
	q.shards = q.startShards(sendCtx, desired, read)
	return true
}

// runMetadata sends all metric metadata every send_interval.
func (q *queue) runMetadata(ctx context.Context) {
	mc := q.cfg.MetadataConfig
	if q.meta == nil || !*mc.Send {
		return
	}
	interval := time.Duration(mc.SendInterval)
	timer := time.NewTimer(time.Second)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		sendCtx, cancel := context.WithTimeout(ctx, interval)
		q.sendMetadata(sendCtx)
		cancel()
		timer.Reset(interval)
	}
}

func (q *queue) sendMetadata(ctx context.Context) {
	all := q.meta.Metadata("", 0)
	names := make([]string, 0, len(all))
	for name := range all {
		names = append(names, name)
	}
	sort.Strings(names)
	var mds []prompb.MetricMetadata
	for _, name := range names {
		for _, md := range all[name] {
			mds = append(mds, prompb.MetricMetadata{
				Type:             prompb.FromMetadataType(md.Type),
				MetricFamilyName: name,
				Help:             md.Help,
				Unit:             md.Unit,
			})
		}
	}
	per := q.cfg.MetadataConfig.MaxSamplesPerSend
	for i := 0; i < len(mds); i += per {
		chunk := mds[i:min(i+per, len(mds))]
		req := prompb.WriteRequest{Metadata: chunk}
		pb, err := req.Marshal()
		if err != nil {
			q.logger.Error("encoding metadata", "err", err)
			return
		}
		body := snappy.Encode(nil, pb)
		if !q.sendMetadataChunk(ctx, body) {
			q.m.metadataFailed.Add(float64(len(mds) - i))
			return
		}
		q.m.metadataSent.Add(float64(len(chunk)))
	}
}

func (q *queue) sendMetadataChunk(ctx context.Context, body []byte) bool {
	backoff := time.Duration(q.cfg.QueueConfig.MinBackoff)
	for {
		err := q.client().store(ctx, body)
		if err == nil {
			return true
		}
		if ok, _ := isRecoverable(err); !ok || ctx.Err() != nil {
			if ctx.Err() == nil {
				q.logger.Error("receiver rejected metadata", "err", err)
			}
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Duration(q.cfg.QueueConfig.MaxBackoff))
	}
}

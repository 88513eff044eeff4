package remotewrite

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"
)

// seriesEntry is one series of the WAL as the receiver will see it.
type seriesEntry struct {
	labels []prompb.Label // after external labels and relabeling; nil when dropped
	seg    int            // segment of its latest series record (for garbage collection)
	lastT  int64          // newest timestamp read for it
}

type sample struct {
	s *seriesEntry
	t int64
	v float64
}

// batch is one future write request. first is the WAL position of the
// record its first sample came from.
type batch struct {
	samples []sample
	first   Position
	created time.Time
}

// tracker knows which WAL positions are safe to save: the position of the
// oldest batch not yet acknowledged on any shard, or, with nothing pending,
// the position after the last record read.
type tracker struct {
	mu      sync.Mutex
	pending [][]Position // per shard, oldest first
	read    Position
}

func (t *tracker) reset(shards int, read Position) {
	t.mu.Lock()
	t.pending = make([][]Position, shards)
	t.read = read
	t.mu.Unlock()
}

func (t *tracker) open(shard int, p Position) {
	t.mu.Lock()
	t.pending[shard] = append(t.pending[shard], p)
	t.mu.Unlock()
}

func (t *tracker) done(shard int) {
	t.mu.Lock()
	q := t.pending[shard]
	copy(q, q[1:])
	t.pending[shard] = q[:len(q)-1]
	t.mu.Unlock()
}

func (t *tracker) advance(p Position) {
	t.mu.Lock()
	t.read = p
	t.mu.Unlock()
}

func (t *tracker) committable() Position {
	t.mu.Lock()
	defer t.mu.Unlock()
	min := t.read
	for _, q := range t.pending {
		if len(q) > 0 && q[0].Before(min) {
			min = q[0]
		}
	}
	return min
}

// shardSet is the running senders. The WAL reader owns it: it fills each
// shard's current batch and hands full ones over the shard's channel.
type shardSet struct {
	q      *queue
	chans  []chan *batch
	cur    []*batch
	wg     sync.WaitGroup
	closed bool
}

// sendStats feed the resharding decision.
type sendStats struct {
	busyNanos    atomic.Int64 // time spent in requests
	blockedNanos atomic.Int64 // time the reader waited for a full shard
	failures     atomic.Int64 // failed attempts
}

func (q *queue) startShards(ctx context.Context, n int, read Position) *shardSet {
	qc := q.cfg.QueueConfig
	depth := max(qc.Capacity/qc.MaxSamplesPerSend, 1)
	s := &shardSet{q: q, chans: make([]chan *batch, n), cur: make([]*batch, n)}
	q.tracker.reset(n, read)
	for i := range n {
		s.chans[i] = make(chan *batch, depth)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			q.runShard(ctx, i, s.chans[i])
		}()
	}
	q.m.shards.Set(float64(n))
	return s
}

// add appends one sample to its shard's batch, handing the batch over when
// it is full. It returns false when ctx ended while waiting for the shard.
func (s *shardSet) add(ctx context.Context, ref uint64, smp sample, recStart Position) bool {
	i := int(ref % uint64(len(s.chans)))
	b := s.cur[i]
	if b == nil {
		b = s.q.newBatch(recStart)
		s.cur[i] = b
		s.q.tracker.open(i, recStart)
	}
	b.samples = append(b.samples, smp)
	if len(b.samples) >= s.q.cfg.QueueConfig.MaxSamplesPerSend {
		return s.push(ctx, i)
	}
	return true
}

func (s *shardSet) push(ctx context.Context, i int) bool {
	b := s.cur[i]
	if b == nil {
		return true
	}
	// Counted before the shard may see (and recycle) the batch.
	n := float64(len(b.samples))
	s.q.m.samplesPending.Add(n)
	select {
	case s.chans[i] <- b:
	default:
		start := time.Now()
		select {
		case s.chans[i] <- b:
		case <-ctx.Done():
			s.q.m.samplesPending.Sub(n)
			return false
		}
		s.q.stats.blockedNanos.Add(int64(time.Since(start)))
	}
	s.cur[i] = nil
	return true
}

// flushOld hands over the batches older than the batch_send_deadline (all
// of them when all is set).
func (s *shardSet) flushOld(ctx context.Context, now time.Time, all bool) bool {
	deadline := time.Duration(s.q.cfg.QueueConfig.BatchSendDeadline)
	for i, b := range s.cur {
		if b != nil && (all || now.Sub(b.created) >= deadline) {
			if !s.push(ctx, i) {
				return false
			}
		}
	}
	return true
}

// drain sends everything and stops the shards; it returns false when ctx
// ended first (the shards then keep going until their own context ends).
func (s *shardSet) drain(ctx context.Context) bool {
	if !s.flushOld(ctx, time.Now(), true) {
		return false
	}
	if !s.closed {
		for _, c := range s.chans {
			close(c)
		}
		s.closed = true
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		return false
	}
}

func (q *queue) newBatch(first Position) *batch {
	if b, ok := q.batchPool.Get().(*batch); ok {
		b.first, b.created = first, time.Now()
		return b
	}
	return &batch{
		samples: make([]sample, 0, q.cfg.QueueConfig.MaxSamplesPerSend),
		first:   first,
		created: time.Now(),
	}
}

// encoder turns batches into snappy-compressed WriteRequests, reusing its
// buffers; one per shard.
type encoder struct {
	req     prompb.WriteRequest
	samples []prompb.Sample
	pb      []byte
	snappy  []byte
}

func (e *encoder) encode(b *batch) ([]byte, int64, error) {
	n := len(b.samples)
	if cap(e.samples) < n {
		e.samples = make([]prompb.Sample, n)
		e.req.Timeseries = make([]prompb.TimeSeries, 0, n)
	}
	e.samples = e.samples[:n]
	ts := e.req.Timeseries[:0]
	var highest int64
	for i, s := range b.samples {
		e.samples[i] = prompb.Sample{Value: s.v, Timestamp: s.t}
		ts = append(ts, prompb.TimeSeries{Labels: s.s.labels, Samples: e.samples[i : i+1 : i+1]})
		highest = max(highest, s.t)
	}
	e.req.Timeseries = ts
	size := e.req.Size()
	if cap(e.pb) < size {
		e.pb = make([]byte, size)
	}
	m, err := e.req.MarshalToSizedBuffer(e.pb[:size])
	if err != nil {
		return nil, 0, err
	}
	e.snappy = snappy.Encode(e.snappy[:cap(e.snappy)], e.pb[size-m:size])
	return e.snappy, highest, nil
}

// runShard sends the batches of one shard in order. A batch is either
// acknowledged, or rejected for good (counted as failed), or still unsent
// when ctx ends; only the first two release its WAL position.
func (q *queue) runShard(ctx context.Context, i int, ch <-chan *batch) {
	var enc encoder
	for b := range ch {
		body, highest, err := enc.encode(b)
		if err != nil {
			// Cannot happen with well-formed labels; never retry it.
			q.logger.Error("encoding a write request", "err", err)
			q.m.samplesFailed.Add(float64(len(b.samples)))
		} else if !q.sendWithRetry(ctx, body, len(b.samples), highest) {
			return
		}
		q.m.samplesPending.Sub(float64(len(b.samples)))
		q.tracker.done(i)
		b.samples = b.samples[:0]
		q.batchPool.Put(b)
	}
}

// sendWithRetry returns false only when ctx ended before the batch was
// acknowledged or rejected.
func (q *queue) sendWithRetry(ctx context.Context, body []byte, n int, highest int64) bool {
	qc := q.cfg.QueueConfig
	backoff := time.Duration(qc.MinBackoff)
	for {
		start := time.Now()
		err := q.client().store(ctx, body)
		d := time.Since(start)
		q.stats.busyNanos.Add(int64(d))
		q.m.sendDuration.Observe(d.Seconds())
		if err == nil {
			q.m.reqSuccess.Inc()
			q.m.samplesSent.Add(float64(n))
			q.m.bytesSent.Add(float64(len(body)))
			q.setHighestSent(highest)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		q.stats.failures.Add(1)
		recoverable, retryAfter := isRecoverable(err)
		if !recoverable {
			q.m.reqFailed.Inc()
			q.m.samplesFailed.Add(float64(n))
			q.logger.Error("receiver rejected samples, dropping them", "samples", n, "err", err)
			return true
		}
		q.m.reqRetried.Inc()
		q.m.samplesRetried.Add(float64(n))
		wait := backoff
		if retryAfter > 0 {
			wait = retryAfter
		}
		q.logRetry(err, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		backoff = min(backoff*2, time.Duration(qc.MaxBackoff))
	}
}

// logRetry logs the first failure of a run of failures and then at most
// every 30 s, so an outage does not flood the log.
func (q *queue) logRetry(err error, wait time.Duration) {
	now := time.Now().UnixNano()
	last := q.lastRetryLog.Load()
	if now-last < int64(30*time.Second) || !q.lastRetryLog.CompareAndSwap(last, now) {
		return
	}
	q.logger.Warn("write request failed, retrying", "backoff", wait, "err", err)
}

func (q *queue) setHighestSent(ts int64) {
	for {
		cur := q.highestSent.Load()
		if ts <= cur {
			return
		}
		if q.highestSent.CompareAndSwap(cur, ts) {
			q.m.highestSent.Set(float64(ts) / 1000)
			return
		}
	}
}

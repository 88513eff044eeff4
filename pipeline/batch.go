package pipeline

import (
	"errors"
	"fmt"
	"math"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/relabel"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// ErrSampleLimit is returned by Append once a collection exceeds its sample limit.
var ErrSampleLimit = errors.New("sample limit exceeded")

// SeriesCache remembers, for one target, how each series a collector reports
// maps to its stored labels and storage reference, so a repeated series costs
// neither relabeling nor a label lookup, and which series the previous
// collection had, so those that vanish get a stale marker as in Prometheus.
//
// A SeriesCache belongs to one target and is used by one collection at a time.
type SeriesCache struct {
	entries map[uint64][]*cacheEntry
	n       int // entries, over all hashes
	iter    uint64
}

type cacheEntry struct {
	hash      uint64
	in        labels.Labels // as the collector reported it
	out       labels.Labels // after target labels and relabeling; empty when dropped
	ref       storage.SeriesRef
	lastIter  uint64
	committed bool // some sample of this series was committed
}

// NewSeriesCache returns an empty cache.
func NewSeriesCache() *SeriesCache {
	return &SeriesCache{entries: map[uint64][]*cacheEntry{}}
}

// Len is the number of series the cache knows.
func (c *SeriesCache) Len() int { return c.n }

func (c *SeriesCache) get(h uint64, ls labels.Labels) *cacheEntry {
	for _, e := range c.entries[h] {
		if labels.Equal(e.in, ls) {
			return e
		}
	}
	return nil
}

// BatchOptions say how a collection's samples become stored series.
type BatchOptions struct {
	// TargetLabels are attached to every sample (job, instance, topology).
	TargetLabels labels.Labels
	// HonorLabels keeps the collector's label on a conflict; otherwise the
	// collector's value moves to exported_<name>, as Prometheus does.
	HonorLabels bool
	// MetricRelabel is applied to every sample after the target labels.
	MetricRelabel []*relabel.Config
	// SampleLimit fails the collection when more samples than this are
	// appended after relabeling (0 = no limit).
	SampleLimit int
	// Timestamp (ms) is used for samples appended with t == 0.
	Timestamp int64
}

// Batch is the Appender a collector writes one collection into. Complete it
// with Commit or Rollback.
type Batch struct {
	app   storage.AppenderV2
	cache *SeriesCache
	opts  BatchOptions
	meta  *MetadataStore
	lb    *labels.Builder
	iter  uint64
	seen  int           // cache entries this collection reported
	added []*cacheEntry // entries this collection created

	Scraped int // samples the collector appended
	Stored  int // samples kept after relabeling
}

// NewBatch starts a collection writing into app. meta may be nil.
func NewBatch(app storage.AppenderV2, cache *SeriesCache, meta *MetadataStore, opts BatchOptions) *Batch {
	cache.iter++
	return &Batch{
		app:   app,
		cache: cache,
		opts:  opts,
		meta:  meta,
		lb:    labels.NewBuilder(labels.EmptyLabels()),
		iter:  cache.iter,
	}
}

// Append adds one sample. See collectors.Appender.
func (b *Batch) Append(ls labels.Labels, t int64, v float64) error {
	b.Scraped++
	if t == 0 {
		t = b.opts.Timestamp
	}
	h := ls.Hash()
	e := b.cache.get(h, ls)
	if e == nil {
		e = &cacheEntry{hash: h, in: ls.Copy(), out: b.finalLabels(ls)}
		b.cache.entries[h] = append(b.cache.entries[h], e)
		b.cache.n++
		b.added = append(b.added, e)
	}
	if e.lastIter == b.iter {
		if e.out.IsEmpty() {
			return nil
		}
		// The same series twice in one collection: keep the first, as
		// Prometheus reports a duplicate.
		return fmt.Errorf("series %s: %w", e.out.String(), storage.ErrDuplicateSampleForTimestamp)
	}
	e.lastIter = b.iter
	b.seen++
	if e.out.IsEmpty() {
		return nil // dropped by relabeling: remembered, nothing stored
	}
	b.Stored++
	if b.opts.SampleLimit > 0 && b.Stored > b.opts.SampleLimit {
		return fmt.Errorf("%w: more than %d samples", ErrSampleLimit, b.opts.SampleLimit)
	}
	ref, err := b.app.Append(e.ref, e.out, 0, t, v, nil, nil, storage.AOptions{})
	switch {
	case err == nil:
		e.ref = ref
	case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrOutOfBounds),
		errors.Is(err, storage.ErrDuplicateSampleForTimestamp), errors.Is(err, storage.ErrTooOldSample):
		// Prometheus drops such samples and carries on with the scrape.
		e.ref = ref
	default:
		return fmt.Errorf("append %s: %w", e.out.String(), err)
	}
	return nil
}

// SetMetadata records a family's metadata. See collectors.Appender.
func (b *Batch) SetMetadata(family string, md metadata.Metadata) {
	if b.meta != nil {
		b.meta.Set(family, md)
	}
}

func (b *Batch) finalLabels(ls labels.Labels) labels.Labels {
	b.lb.Reset(ls)
	if b.opts.HonorLabels {
		b.opts.TargetLabels.Range(func(l labels.Label) {
			if !ls.Has(l.Name) {
				b.lb.Set(l.Name, l.Value)
			}
		})
	} else {
		var conflicts []labels.Label
		b.opts.TargetLabels.Range(func(l labels.Label) {
			if v := ls.Get(l.Name); v != "" {
				conflicts = append(conflicts, labels.Label{Name: l.Name, Value: v})
			}
			b.lb.Set(l.Name, l.Value)
		})
		for _, l := range conflicts {
			name := l.Name
			for {
				name = model.ExportedLabelPrefix + name
				if b.lb.Get(name) == "" {
					b.lb.Set(name, l.Value)
					break
				}
			}
		}
	}
	if len(b.opts.MetricRelabel) > 0 && !relabel.ProcessBuilder(b.lb, b.opts.MetricRelabel...) {
		return labels.EmptyLabels()
	}
	return b.lb.Labels()
}

// Commit stores the collection and writes stale markers for the series the
// previous collection had and this one does not.
//
// When the collection reported every known series (the steady state) the
// cache is not scanned at all.
func (b *Batch) Commit() error {
	for _, e := range b.added {
		e.committed = true
	}
	if b.seen < b.cache.n {
		b.markStale(func(e *cacheEntry) bool { return e.lastIter != b.iter })
	}
	return b.app.Commit()
}

// Rollback discards the collection, and forgets the series it introduced.
func (b *Batch) Rollback() error {
	for _, e := range b.added {
		b.cache.remove(e)
	}
	return b.app.Rollback()
}

// remove drops one entry.
func (c *SeriesCache) remove(e *cacheEntry) {
	es := c.entries[e.hash]
	for i, x := range es {
		if x == e {
			es = append(es[:i], es[i+1:]...)
			c.n--
			break
		}
	}
	if len(es) == 0 {
		delete(c.entries, e.hash)
	} else {
		c.entries[e.hash] = es
	}
}

// MarkAllStale writes a stale marker at ts for every series cache has seen and
// forgets them: used when a collection fails or a target goes away, as
// Prometheus does. The caller commits app.
func MarkAllStale(app storage.AppenderV2, cache *SeriesCache, ts int64) {
	b := &Batch{app: app, cache: cache, opts: BatchOptions{Timestamp: ts}}
	b.markStale(func(*cacheEntry) bool { return true })
}

// markStale appends a stale marker for every cached series selected by stale,
// and drops those entries from the cache.
func (b *Batch) markStale(stale func(*cacheEntry) bool) {
	staleNaN := math.Float64frombits(value.StaleNaN)
	b.forget(func(e *cacheEntry) bool {
		if !stale(e) {
			return false
		}
		if !e.out.IsEmpty() && e.committed {
			_, _ = b.app.Append(e.ref, e.out, 0, b.opts.Timestamp, staleNaN, nil, nil, storage.AOptions{})
		}
		return true
	})
}

// forget drops the cache entries for which drop returns true.
func (b *Batch) forget(drop func(*cacheEntry) bool) {
	for h, es := range b.cache.entries {
		kept := es[:0]
		for _, e := range es {
			if !drop(e) {
				kept = append(kept, e)
			} else {
				b.cache.n--
			}
		}
		if len(kept) == len(es) {
			continue
		}
		if len(kept) == 0 {
			delete(b.cache.entries, h)
		} else {
			b.cache.entries[h] = kept
		}
	}
}

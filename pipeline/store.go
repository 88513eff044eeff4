package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// StoreOptions configures the embedded TSDB.
type StoreOptions struct {
	// Path is the data directory (created if missing).
	Path string
	// RetentionTime drops blocks older than this. 0 means 15 days.
	RetentionTime time.Duration
	// RetentionSize caps the bytes the blocks may use (0 = no cap).
	RetentionSize int64
	// OutOfOrderTimeWindow accepts samples up to this much older than the
	// newest sample of their series, as Prometheus' out_of_order_time_window.
	OutOfOrderTimeWindow time.Duration
}

// Store is the embedded TSDB plus the metric metadata collectors report.
// It satisfies storage.Queryable and storage.AppendableV2.
type Store struct {
	db   *tsdb.DB
	meta *MetadataStore
}

// OpenStore opens (or creates) the TSDB under o.Path, replaying its WAL.
func OpenStore(o StoreOptions, logger *slog.Logger, reg prometheus.Registerer) (*Store, error) {
	opts := tsdb.DefaultOptions()
	if o.RetentionTime > 0 {
		opts.RetentionDuration = o.RetentionTime.Milliseconds()
	}
	opts.MaxBytes = o.RetentionSize
	opts.OutOfOrderTimeWindow = o.OutOfOrderTimeWindow.Milliseconds()
	db, err := tsdb.Open(o.Path, logger.With("component", "tsdb"), reg, opts, tsdb.NewDBStats())
	if err != nil {
		return nil, fmt.Errorf("open TSDB in %s: %w", o.Path, err)
	}
	return &Store{db: db, meta: NewMetadataStore()}, nil
}

// DB returns the underlying TSDB.
func (s *Store) DB() *tsdb.DB { return s.db }

// Querier implements storage.Queryable.
func (s *Store) Querier(mint, maxt int64) (storage.Querier, error) { return s.db.Querier(mint, maxt) }

// AppenderV2 implements storage.AppendableV2.
func (s *Store) AppenderV2(ctx context.Context) storage.AppenderV2 { return s.db.AppenderV2(ctx) }

// Appender implements storage.Appendable for callers that still use the
// older interface (prometheus' rule manager).
func (s *Store) Appender(ctx context.Context) storage.Appender { return s.db.Appender(ctx) }

// Metadata returns what the collectors reported for metric families.
func (s *Store) Metadata() *MetadataStore { return s.meta }

// Close flushes and closes the TSDB.
func (s *Store) Close() error { return s.db.Close() }

// MetadataStore keeps the TYPE/HELP/UNIT of every metric family, as reported by
// collectors, for /api/v1/metadata. Safe for concurrent use.
type MetadataStore struct {
	mu       sync.RWMutex
	families map[string]map[metadata.Metadata]struct{}
}

// NewMetadataStore returns an empty store.
func NewMetadataStore() *MetadataStore {
	return &MetadataStore{families: map[string]map[metadata.Metadata]struct{}{}}
}

// Set records md for family.
func (m *MetadataStore) Set(family string, md metadata.Metadata) {
	m.mu.RLock()
	_, ok := m.families[family][md]
	m.mu.RUnlock()
	if ok {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	set := m.families[family]
	if set == nil {
		set = map[metadata.Metadata]struct{}{}
		m.families[family] = set
	}
	set[md] = struct{}{}
}

// Metadata returns the metadata of metric (all families when metric is
// empty), at most limit families when limit > 0, as /api/v1/metadata does.
func (m *MetadataStore) Metadata(metric string, limit int) map[string][]metadata.Metadata {
	m.mu.RLock()
	defer m.mu.RUnlock()
	names := make([]string, 0, len(m.families))
	for name := range m.families {
		if metric == "" || name == metric {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := make(map[string][]metadata.Metadata, len(names))
	for _, name := range names {
		if limit > 0 && len(out) >= limit {
			break
		}
		mds := make([]metadata.Metadata, 0, len(m.families[name]))
		for md := range m.families[name] {
			mds = append(mds, md)
		}
		sort.Slice(mds, func(i, j int) bool {
			if mds[i].Type != mds[j].Type {
				return mds[i].Type < mds[j].Type
			}
			return mds[i].Help < mds[j].Help
		})
		out[name] = mds
	}
	return out
}

package sqlstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
	"github.com/fleetwatch/fleetwatch/alerter/store/storetest"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// benchEngines opens one store per engine for a benchmark: SQLite with
// synchronous FULL (the default) and NORMAL, and PostgreSQL with fsync on.
func benchEngines(parent *testing.B) []struct {
	name string
	open func(b *testing.B) *Store
} {
	var pg *storetest.Postgres
	return []struct {
		name string
		open func(b *testing.B) *Store
	}{
		{"sqlite-full", func(b *testing.B) *Store {
			s, err := OpenSQLite(filepath.Join(b.TempDir(), "a.db"), Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"sqlite-normal", func(b *testing.B) *Store {
			s, err := OpenSQLite(filepath.Join(b.TempDir(), "a.db"), Options{Synchronous: SyncNormal})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(b *testing.B) *Store {
			if pg == nil {
				if _, ok := storetest.PostgresBinDir(); !ok {
					testpeer.Need(b, "postgres") // skips, or fails under CI
				}
				// Started on the parent benchmark: it lives until the
				// parent ends, across the sub-benchmark's runs.
				pg = storetest.StartPostgres(parent, storetest.PostgresOptions{Durable: true})
			}
			s, err := OpenPostgres(context.Background(), pg.NewDatabase(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

func benchAlert(i int, now time.Time) store.Alert {
	return store.Alert{
		Fingerprint: fmt.Sprintf("%016x", i),
		Labels: map[string]string{"alertname": "HostDown", "instance": fmt.Sprintf("srv-%05d:9100", i),
			"job": "node", "rack": fmt.Sprintf("R%02d", i%40), "site": "dc1", "severity": "critical"},
		Annotations:  map[string]string{"summary": "host unreachable", "runbook_url": "https://runbooks/hostdown"},
		StartsAt:     now.Add(-time.Minute),
		EndsAt:       now.Add(4 * time.Minute),
		GeneratorURL: "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0",
		UpdatedAt:    now,
	}
}

// BenchmarkUpdateOneAlert: one Update that puts one alert (a first arrival
// or a re-send), committed durably.
func BenchmarkUpdateOneAlert(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			now := time.Now()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				a := benchAlert(i%10000, now)
				if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutAlert(ctx, a) }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// BenchmarkUpdate100Alerts: one Update that puts a batch of 100 alerts, as
// one POST /api/v2/alerts of 100 does: one PutAlert each, or one PutAlerts.
func BenchmarkUpdate100Alerts(b *testing.B) {
	for _, e := range benchEngines(b) {
		for _, mode := range []string{"put", "batch"} {
			b.Run(e.name+"/"+mode, func(b *testing.B) {
				s := e.open(b)
				ctx := context.Background()
				now := time.Now()
				batch := make([]store.Alert, 100)
				b.ReportAllocs()
				b.ResetTimer()
				for i := range b.N {
					for j := range batch {
						batch[j] = benchAlert((i*100+j)%10000, now)
					}
					err := s.Update(ctx, func(tx store.Tx) error {
						if mode == "batch" {
							return tx.(store.AlertBatchPutter).PutAlerts(ctx, batch)
						}
						for _, a := range batch {
							if err := tx.PutAlert(ctx, a); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
			})
		}
	}
}

// BenchmarkInsert100Alerts: one Update that puts 100 alerts never seen
// before, as a POST /api/v2/alerts of new alerts does, into a store that
// holds 50,000 alerts already. Fingerprints are hashes, as real ones.
func BenchmarkInsert100Alerts(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			now := time.Now()
			batch := make([]store.Alert, 100)
			put := func(from int) {
				for j := range batch {
					batch[j] = benchAlert(from+j, now)
					batch[j].Fingerprint = fmt.Sprintf("%016x", fnv64(batch[j].Fingerprint))
				}
				err := s.Update(ctx, func(tx store.Tx) error {
					return tx.(store.AlertBatchPutter).PutAlerts(ctx, batch)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			for i := range 500 {
				put(1e8 + i*100)
			}
			b.ReportAllocs()
			b.ResetTimer()
			w0 := writtenBytes(b)
			for i := range b.N {
				put(i * 100)
			}
			// What the commits write (WAL frames; the database file is
			// written by the background checkpointer, counted too).
			b.ReportMetric(float64(writtenBytes(b)-w0)/float64(b.N)/1024, "written-KiB/op")
			b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "alerts/s")
		})
	}
}

// writtenBytes is what this process has written with write(2) and
// pwrite(2) so far (/proc/self/io wchar).
func writtenBytes(b *testing.B) int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("/proc/self/io has no wchar")
	return 0
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// BenchmarkIncidentWithTrigger: the commit before a page: an incident, its
// first timeline event and its outbox entry in one Update.
func BenchmarkIncidentWithTrigger(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := commitIncident(ctx, s, i); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkClaimNotifications: one outbox worker round: claim up to 10 due
// notifications out of 10,000 pending and finish each as sent.
func BenchmarkClaimNotifications(b *testing.B) {
	for _, e := range benchEngines(b) {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			ctx := context.Background()
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			fill := func() {
				err := s.Update(ctx, func(tx store.Tx) error {
					for i := range 10000 {
						if _, err := tx.Enqueue(ctx, store.Notification{IncidentID: fmt.Sprintf("inc-%d", i), Receiver: "pd",
							Action: "trigger", Payload: []byte(`{"event_action":"trigger"}`), CreatedAt: t0}); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			fill()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ns, err := s.ClaimNotifications(ctx, "bench", t0, time.Minute, 10)
				if err != nil {
					b.Fatal(err)
				}
				if len(ns) == 0 {
					b.StopTimer()
					fill()
					b.StartTimer()
					continue
				}
				for _, n := range ns {
					if err := s.FinishNotification(ctx, n.ID, t0, "", time.Time{}); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkListEvents: an incident's timeline, and a one-hour window,
// among 1,000,000 stored events (1,000 incidents over 30 days).
func BenchmarkListEvents(b *testing.B) {
	for _, e := range benchEngines(b) {
		if e.name == "sqlite-normal" {
			continue // same reads as sqlite-full
		}
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			start := time.Now()
			if err := fillEvents(s, 1_000_000, t0); err != nil {
				b.Fatal(err)
			}
			b.Logf("stored 1,000,000 events in %v", time.Since(start).Round(time.Millisecond))
			ctx := context.Background()
			cases := []struct {
				name string
				f    store.EventFilter
			}{
				{"incident", store.EventFilter{IncidentID: "inc-0500"}},
				{"hour", store.EventFilter{Since: t0.Add(15 * 24 * time.Hour), Until: t0.Add(15*24*time.Hour + time.Hour)}},
				{"hour-labels", store.EventFilter{Since: t0.Add(15 * 24 * time.Hour), Until: t0.Add(15*24*time.Hour + time.Hour),
					Labels: map[string]string{"rack": "R07"}}},
				{"tail-100", store.EventFilter{AfterID: 999_900}},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					var n int
					for range b.N {
						evs, err := s.ListEvents(ctx, c.f)
						if err != nil {
							b.Fatal(err)
						}
						n = len(evs)
					}
					b.ReportMetric(float64(n), "events")
				})
			}
		})
	}
}

// fillEvents stores n events directly in SQL (the benchmark's setup, not
// what it measures): incident inc-%04d (id mod 1000), one every
// 30 days / n, labels with a rack.
func fillEvents(s *Store, n int, t0 time.Time) error {
	step := int64(30*24*time.Hour) / int64(n)
	var q string
	switch s.dialect {
	case dialectSQLite:
		q = `WITH RECURSIVE g(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM g WHERE i + 1 < ?)
		INSERT INTO events (incident_id, time, kind, actor, summary, labels, data)
		SELECT printf('inc-%04d', i % 1000), ? + i * ?, 'alert_firing', 'rule:HostDown',
			'host unreachable', printf('{"instance":"srv-%05d","rack":"R%02d"}', i % 40000, i % 40), '{"n":' || i || '}'
		FROM g`
	case dialectPostgres:
		q = `INSERT INTO events (incident_id, time, kind, actor, summary, labels, data)
		SELECT format('inc-%s', lpad((i % 1000)::text, 4, '0')), $2::bigint + i::bigint * $3::bigint, 'alert_firing', 'rule:HostDown',
			'host unreachable', format('{"instance":"srv-%s","rack":"R%s"}', lpad((i % 40000)::text, 5, '0'), lpad((i % 40)::text, 2, '0'))::json,
			format('{"n":%s}', i)::json
		FROM generate_series(0, $1::int - 1) AS i`
	}
	ctx := context.Background()
	if _, err := s.w.ExecContext(ctx, q, n, t0.UnixNano(), step); err != nil {
		return err
	}
	if s.dialect == dialectPostgres {
		// What autovacuum does soon after a bulk load.
		_, err := s.w.ExecContext(ctx, "ANALYZE events")
		return err
	}
	return nil
}

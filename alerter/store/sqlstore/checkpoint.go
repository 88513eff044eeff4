package sqlstore

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"
)

// checkpointInterval is how often the background checkpointer copies the
// WAL into the database file.
const checkpointInterval = 200 * time.Millisecond

// checkpointer copies SQLite's write-ahead log into the database file
// from its own connection (PRAGMA wal_checkpoint(PASSIVE)), so that no
// commit pays for it. Left to SQLite, the checkpoint runs inside the
// commit that takes the WAL past 1000 pages, and the sender of that
// batch of alerts waits while the database file is written and fsynced.
// A passive checkpoint never blocks the writer or the readers; between
// two runs the WAL holds at most what was committed in the interval.
type checkpointer struct {
	db      *sql.DB
	log     *slog.Logger
	metrics *metrics
	stop    chan struct{}
	done    chan struct{}
	closed  sync.Once
	err     error
}

func startCheckpointer(db *sql.DB, log *slog.Logger, m *metrics) *checkpointer {
	c := &checkpointer{db: db, log: log, metrics: m, stop: make(chan struct{}), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.done)
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	failing := false
	var last [2]int // the previous run's WAL and checkpointed page counts
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		var busy, logPages, copied int
		err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logPages, &copied)
		cancel()
		if err != nil {
			if !failing {
				c.log.Warn("alert store: WAL checkpoint failed; retrying", "err", err)
			}
			failing = true
			continue
		}
		failing = false
		if busy == 0 && [2]int{logPages, copied} != last {
			c.metrics.checkpointed(start, logPages-copied)
		}
		last = [2]int{logPages, copied}
	}
}

// close stops the checkpointer and closes its connection (once; later
// calls return the first's result). SQLite checkpoints what is left when
// the last connection closes.
func (c *checkpointer) close() error {
	c.closed.Do(func() {
		close(c.stop)
		<-c.done
		c.err = c.db.Close()
	})
	return c.err
}

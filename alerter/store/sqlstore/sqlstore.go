package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/prometheus/client_golang/prometheus"
	"modernc.org/sqlite"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// Synchronous values for SQLite (PRAGMA synchronous).
const (
	// SyncFull fsyncs the WAL at every commit: a committed Update survives
	// kill -9, an OS crash and a power cut. The default.
	SyncFull = "FULL"
	// SyncNormal leaves the WAL to the OS: a committed Update survives
	// kill -9 of fleetwatch, but an OS crash or power cut may lose the last
	// commits. Faster on slow disks.
	SyncNormal = "NORMAL"
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Logger receives migration and open messages (never stored data).
	// nil: slog.Default() is not used; messages are dropped.
	Logger *slog.Logger
	// Registerer receives the store's metrics; nil registers none.
	Registerer prometheus.Registerer

	// Synchronous is SQLite's PRAGMA synchronous: SyncFull (default) or
	// SyncNormal.
	Synchronous string
	// BusyTimeout is how long an SQLite connection waits for a lock held by
	// another process before failing (default 5 s).
	BusyTimeout time.Duration
	// ReadConns is the number of SQLite read connections (default 4).
	ReadConns int

	// MaxConns bounds PostgreSQL connections of this process (default 10).
	MaxConns int
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Synchronous == "" {
		o.Synchronous = SyncFull
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 10
	}
}

type dialect int

const (
	dialectSQLite dialect = iota
	dialectPostgres
)

func (d dialect) String() string {
	if d == dialectPostgres {
		return "postgres"
	}
	return "sqlite"
}

// Store is a store.Store on SQLite or PostgreSQL. It is safe for concurrent
// use.
type Store struct {
	dialect dialect
	// w takes every write (one connection on SQLite), r the reads (the
	// same pool as w on PostgreSQL).
	w, r    *sql.DB
	log     *slog.Logger
	metrics *metrics
	// queries holds each query text rewritten for the dialect.
	queries *queryCache
	// batchSQL holds the multi-row alert statements (batchKey → string).
	batchSQL sync.Map
	// lastIdx reuses putAlerts' fingerprint → last index maps.
	lastIdx sync.Pool
	// stmts are the writer's prepared statements (SQLite).
	stmts stmtCache
	// ckpt copies the WAL into the database file (SQLite).
	ckpt *checkpointer
	// ids maps alert fingerprints to row ids (SQLite; nil on PostgreSQL).
	ids *alertIDs
}

var _ store.Store = (*Store)(nil)

// OpenSQLite opens (creating if needed) the SQLite database at path and
// brings its schema up to date. The file's directory must exist.
func OpenSQLite(path string, opts Options) (*Store, error) {
	opts.defaults()
	sync := strings.ToUpper(opts.Synchronous)
	if sync != SyncFull && sync != SyncNormal {
		return nil, fmt.Errorf("sqlite %s: synchronous %q: want FULL or NORMAL", path, opts.Synchronous)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+sync+")")
	q.Add("_pragma", "foreign_keys(OFF)")
	q.Add("_pragma", "temp_store(MEMORY)")
	// Checkpoints run in the background (checkpointer), not in commits.
	q.Add("_pragma", "wal_autocheckpoint(0)")
	q.Add("_txlock", "immediate")
	dsn := "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + q.Encode()

	w, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{dialect: dialectSQLite, w: w, log: opts.Logger, queries: newQueryCache(dialectSQLite)}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	s.ids = &alertIDs{}
	if err := s.ids.reload(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}

	rq := url.Values{}
	rq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	r.SetConnMaxIdleTime(0)
	r.SetConnMaxLifetime(0)
	s.r = r
	if err := s.initMetrics(opts.Registerer); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	cq := url.Values{}
	cq.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds()))
	cq.Add("_pragma", "synchronous("+sync+")")
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: abs}).EscapedPath()+"?"+cq.Encode())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	c.SetMaxIdleConns(1)
	c.SetConnMaxIdleTime(0)
	c.SetConnMaxLifetime(0)
	s.ckpt = startCheckpointer(c, s.log, s.metrics)
	s.log.Info("alert store opened", "engine", "sqlite", "path", abs, "synchronous", sync)
	return s, nil
}

// OpenPostgres connects to the PostgreSQL database named by dsn (a URL
// postgres://user@host:port/db?sslmode=… or a key=value string, as libpq
// takes) and brings its schema up to date. Several processes may open the
// same database at once: migrations take an advisory lock.
func OpenPostgres(ctx context.Context, dsn string, opts Options) (*Store, error) {
	opts.defaults()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the DSN, password included: keep only
		// what cannot leak.
		return nil, fmt.Errorf("postgres: invalid DSN: %w", redactDSNError(err))
	}
	where := fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(opts.MaxConns)
	db.SetMaxIdleConns(opts.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{dialect: dialectPostgres, w: db, r: db, log: opts.Logger, queries: newQueryCache(dialectPostgres)}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if err := s.initMetrics(opts.Registerer); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	s.log.Info("alert store opened", "engine", "postgres", "host", cfg.Host, "port", cfg.Port, "database", cfg.Database)
	return s, nil
}

// redactDSNError drops the DSN (and with it any password) that pgx and
// net/url quote in their parse errors, keeping the reason.
func redactDSNError(err error) error {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return errors.New("cannot parse")
	}
	msg := pe.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		msg = msg[i+3:]
	}
	if inner := pe.Unwrap(); inner != nil {
		var ue *url.Error
		if errors.As(inner, &ue) {
			// net/url quotes the whole URL: keep its reason only.
			if i := strings.Index(msg, " ("); i >= 0 {
				msg = msg[:i]
			}
			msg += " (" + ue.Err.Error() + ")"
		}
	}
	if pe.ConnString != "" && strings.Contains(msg, pe.ConnString) {
		return errors.New("cannot parse")
	}
	return errors.New(msg)
}

// Close releases the database connections.
func (s *Store) Close() error {
	var err error
	if s.ckpt != nil {
		err = s.ckpt.close()
	}
	s.stmts.close()
	err = errors.Join(err, s.w.Close())
	if s.r != nil && s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Engine names the database engine: "sqlite" or "postgres".
func (s *Store) Engine() string { return s.dialect.String() }

// Update runs fn in one transaction; see store.Store.
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	start := time.Now()
	defer func() { s.metrics.observeUpdate(start, err) }()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", s.mapErr(err))
	}
	var unprepared []string
	defer func() {
		for _, q := range unprepared {
			s.stmts.prepare(ctx, s.w, q)
		}
	}()
	tx := &txn{s: s, tx: preparedTx{s: s, tx: sqlTx, unprepared: &unprepared}}
	if s.ids != nil && s.ids.isStale() {
		if err := s.ids.reload(ctx, sqlTx); err != nil {
			_ = sqlTx.Rollback()
			return err
		}
	}
	done := false
	defer func() {
		if !done {
			// fn panicked: roll back and let the panic go on.
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		done = true
		if rbErr := sqlTx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("rollback: %w", rbErr))
		}
		return err
	}
	done = true
	if s.ids != nil {
		// Still holding the writer connection: no other writer can look
		// an id up between this and the commit.
		s.ids.apply(&tx.ids)
	}
	if err := sqlTx.Commit(); err != nil {
		if s.ids != nil {
			s.ids.markStale() // the ids just applied may not be in the table
		}
		return fmt.Errorf("commit: %w", s.mapErr(err))
	}
	return nil
}

// mapErr turns engine errors the caller can act on into store errors:
// serialization failures and deadlocks (PostgreSQL) into ErrConflict.
func (s *Store) mapErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "40001", "40P01": // serialization_failure, deadlock_detected
			return fmt.Errorf("%w: %s", store.ErrConflict, pe.Message)
		}
	}
	return err
}

// isUniqueViolation reports whether err is a unique or primary-key
// constraint failure on either engine.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE (2067) and _PRIMARYKEY (1555).
		return se.Code() == 2067 || se.Code() == 1555
	}
	return false
}

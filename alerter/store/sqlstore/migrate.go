package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one schema step: migrations/<dialect>/<version>_<name>.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// ErrSchemaTooNew is returned by the Open functions when the database was
// migrated by a newer fleetwatch than this one.
var ErrSchemaTooNew = errors.New("database schema is newer than this fleetwatch")

func loadMigrations(d dialect) ([]migration, error) {
	dir := "migrations/" + d.String()
	entries, err := fs.ReadDir(migrationFiles, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: name must be <version>_<name>.sql", path.Join(dir, name))
		}
		b, err := fs.ReadFile(migrationFiles, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: rest, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migrations/%s: version %d missing or repeated", d, i+1)
		}
	}
	return ms, nil
}

// SchemaVersion is the newest schema version this build knows for the
// engine ("sqlite" or "postgres").
func SchemaVersion(engine string) int {
	d := dialectSQLite
	if engine == "postgres" {
		d = dialectPostgres
	}
	ms, err := loadMigrations(d)
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate applies the missing migrations, each in its own transaction with
// its row in schema_migrations, and refuses a schema newer than it knows.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.dialect)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	latest := ms[len(ms)-1].version
	for {
		applied, err := s.migrateOne(ctx, ms, latest)
		if err != nil {
			return err
		}
		if !applied {
			return nil
		}
	}
}

// migrateOne applies the next missing migration and reports whether it did.
func (s *Store) migrateOne(ctx context.Context, ms []migration, latest int) (bool, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit it is a no-op
	if s.dialect == dialectPostgres {
		// Instances starting together take turns; the lock ends with the
		// transaction.
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(7446105411)"); err != nil {
			return false, fmt.Errorf("migrate: lock: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    BIGINT PRIMARY KEY,
		name       TEXT   NOT NULL,
		applied_at BIGINT NOT NULL
	)`); err != nil {
		return false, fmt.Errorf("migrate: schema_migrations: %w", err)
	}
	var current sql.NullInt64
	if err := tx.QueryRowContext(ctx, "SELECT MAX(version) FROM schema_migrations").Scan(&current); err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	cur := int(current.Int64)
	if cur > latest {
		return false, fmt.Errorf("%w: schema version %d, this build knows up to %d: run a fleetwatch at least as new as the one that wrote it", ErrSchemaTooNew, cur, latest)
	}
	if cur == latest {
		return false, tx.Commit()
	}
	m := ms[cur] // versions are 1..latest without gaps
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, s.queries.get("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return false, fmt.Errorf("migration %d (%s): record: %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("migration %d (%s): commit: %w", m.version, m.name, err)
	}
	s.log.Info("alert store schema migrated", "engine", s.dialect.String(), "version", m.version, "name", m.name)
	return true, nil
}

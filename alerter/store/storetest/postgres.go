package storetest

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// PostgresOptions tune the server StartPostgres runs.
type PostgresOptions struct {
	// Durable keeps fsync and synchronous_commit on, as in production: for
	// benchmarks. Off (the default) the server skips fsync: for the suite.
	Durable bool
}

// Postgres is a PostgreSQL server started for one test on 127.0.0.1, data
// in the test's temporary directory, stopped when the test ends.
type Postgres struct {
	Port int
	// SocketDir holds the server's unix socket.
	SocketDir string

	mu  sync.Mutex
	dbs int
}

// PostgresBinDir finds the server binaries: on PATH, or Debian's
// /usr/lib/postgresql/<version>/bin (newest version). ok is false when
// PostgreSQL is not installed.
func PostgresBinDir() (dir string, ok bool) {
	if p, err := exec.LookPath("postgres"); err == nil {
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "initdb")); err == nil {
			return dir, true
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "postgres")); err == nil {
			return dirs[i], true
		}
	}
	return "", false
}

func postgresBinDir(t testing.TB) string {
	t.Helper()
	if dir, ok := PostgresBinDir(); ok {
		return dir
	}
	// Not installed: a skip on a developer's machine, a failure under CI.
	testpeer.Need(t, "postgres")
	return ""
}

// StartPostgres runs initdb and postgres from Debian's postgresql package
// (or the ones on PATH) on a free loopback port. As root it runs them as
// the postgres user, which the server requires. A missing PostgreSQL skips
// the test, or fails it under CI=true.
func StartPostgres(t testing.TB, opts PostgresOptions) *Postgres {
	t.Helper()
	bin := postgresBinDir(t)
	base := t.TempDir()
	dir := filepath.Join(base, "pg")
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("postgres: running as root needs the postgres user (Debian's postgresql package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The server's user must reach its directory: open the test's
		// temporary directories for traversal and give it its own.
		for _, d := range []string{filepath.Dir(base), base} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.SysProcAttr = procAttr(cred)
		cmd.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
		return cmd
	}
	initdb := run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("postgres: initdb: %v\n%s", err, out)
	}

	port := testpeer.FreePort(t)
	fsync := "off"
	if opts.Durable {
		fsync = "on"
	}
	var out bytes.Buffer
	srv := run("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync="+fsync, "-c", "synchronous_commit="+fsync,
		"-c", "full_page_writes="+fsync, "-c", "max_connections=200", "-c", "shared_buffers=128MB")
	srv.Stdout, srv.Stderr = &out, &out
	if err := srv.Start(); err != nil {
		t.Fatalf("postgres: start: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = srv.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("postgres output:\n%s", out.String())
		}
	})

	p := &Postgres{Port: port, SocketDir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for {
		err = db.PingContext(ctx)
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("postgres exited at start:\n%s", out.String())
		case <-ctx.Done():
			t.Fatalf("postgres not ready after 30 s: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	return p
}

// DSN is the connection string of database db on the server.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// NewDatabase creates an empty database and returns its DSN.
func (p *Postgres) NewDatabase(t testing.TB) string {
	t.Helper()
	p.mu.Lock()
	p.dbs++
	name := fmt.Sprintf("fleetwatch_%d", p.dbs)
	p.mu.Unlock()
	db, err := sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("postgres: create database %s: %v", name, err)
	}
	return p.DSN(name)
}

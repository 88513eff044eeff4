package sqlstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// The crash tests re-run this test binary as a child that writes and is
// killed with SIGKILL; the parent reopens the file and checks what is there.
const (
	crashEnvPath = "FLEETWATCH_STORE_CRASH_PATH"
	crashEnvMode = "FLEETWATCH_STORE_CRASH_MODE"
	crashEnvSync = "FLEETWATCH_STORE_CRASH_SYNC"
)

var crashT0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// commitIncident opens incident i and its trigger in one Update, as the
// alerter does.
func commitIncident(ctx context.Context, s *Store, i int) error {
	return s.Update(ctx, func(tx store.Tx) error {
		id := fmt.Sprintf("inc-%06d", i)
		if err := tx.CreateIncident(ctx, store.Incident{ID: id, GroupKey: id, State: store.Triggered,
			Severity: "critical", CreatedAt: crashT0, UpdatedAt: crashT0, Version: 1}); err != nil {
			return err
		}
		if _, err := tx.AddEvent(ctx, store.TimelineEvent{IncidentID: id, Time: crashT0, Kind: store.EventIncidentCreated}); err != nil {
			return err
		}
		_, err := tx.Enqueue(ctx, store.Notification{IncidentID: id, Receiver: "pd", Action: "trigger",
			Payload: []byte(`{"dedup_key":"` + id + `"}`), CreatedAt: crashT0})
		return err
	})
}

// TestCrashChild is the child's body; it does nothing in a normal run.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnvPath)
	if path == "" {
		t.Skip("runs as the child of TestCrash only")
	}
	s, err := OpenSQLite(path, Options{Synchronous: os.Getenv(crashEnvSync)})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; ; i++ {
		if err := commitIncident(ctx, s, i); err != nil {
			fmt.Println("update:", err)
			os.Exit(2)
		}
		// Update returned: the commit is acknowledged to the caller.
		fmt.Printf("committed %d\n", i)
		if os.Getenv(crashEnvMode) == "once" {
			// Die right after the commit, before any Close or checkpoint.
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}

func TestCrash(t *testing.T) {
	tests := []struct {
		name, mode, sync string
	}{
		{"killed right after one commit, FULL", "once", SyncFull},
		{"killed while committing, FULL", "loop", SyncFull},
		{"killed while committing, NORMAL", "loop", SyncNormal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "alerter.db")
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), crashEnvPath+"="+path, crashEnvMode+"="+tc.mode, crashEnvSync+"="+tc.sync)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			acked := -1
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				line := sc.Text()
				if n, ok := strings.CutPrefix(line, "committed "); ok {
					acked, _ = strconv.Atoi(n)
				} else if strings.HasPrefix(line, "open:") || strings.HasPrefix(line, "update:") {
					t.Fatalf("child: %s", line)
				}
				if tc.mode == "loop" && acked == 200 {
					// Kill it mid-stream: it is inside a later Update. The
					// lines it printed before dying are still read below.
					_ = cmd.Process.Signal(syscall.SIGKILL)
				}
			}
			err = cmd.Wait()
			if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die of SIGKILL: %v", err)
			}
			if acked < 0 {
				t.Fatal("the child acknowledged no commit")
			}

			s, err := OpenSQLite(path, Options{})
			if err != nil {
				t.Fatalf("reopen after kill -9: %v", err)
			}
			defer s.Close()
			ctx := context.Background()
			incs, err := s.ListIncidents(ctx, store.IncidentFilter{})
			if err != nil {
				t.Fatal(err)
			}
			ns, err := s.ListNotifications(ctx, store.NotificationFilter{})
			if err != nil {
				t.Fatal(err)
			}
			evs, err := s.ListEvents(ctx, store.EventFilter{})
			if err != nil {
				t.Fatal(err)
			}
			// Every acknowledged commit is there; at most the one in flight
			// beyond it; each whole (incident, event and outbox entry).
			if len(incs) < acked+1 || len(incs) > acked+2 {
				t.Errorf("%d incidents after kill -9; the child acknowledged %d commits", len(incs), acked+1)
			}
			if len(ns) != len(incs) || len(evs) != len(incs) {
				t.Errorf("%d incidents, %d events, %d notifications: a commit was split", len(incs), len(evs), len(ns))
			}
			pending := map[string]bool{}
			for _, n := range ns {
				if n.State == store.NotificationPending {
					pending[n.IncidentID] = true
				}
			}
			for i := 0; i <= acked; i++ {
				if id := fmt.Sprintf("inc-%06d", i); !pending[id] {
					t.Errorf("acknowledged incident %s has no pending trigger after kill -9", id)
				}
			}
			// The outbox worker of the restarted process finds them.
			claimed, err := s.ClaimNotifications(ctx, "restarted", crashT0.Add(time.Second), time.Minute, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if len(claimed) != len(ns) {
				t.Errorf("claimed %d of %d pending notifications after restart", len(claimed), len(ns))
			}
			t.Logf("child acknowledged %d commits; found %d incidents", acked+1, len(incs))
		})
	}
}

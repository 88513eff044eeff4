package remediate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetwatch/fleetwatch/alerter/store"
)

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "action.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func execConfig(command string, extra string) string {
	return fmt.Sprintf(`
remediations:
  - name: drain
    match: ['alertname="HostDown"']
    action:
      exec:
        command: [%q]
%s
`, command, extra)
}

// runOne opens an incident on srv-r12-01, runs the worker until the run
// reaches a final status and returns it.
func runOne(t *testing.T, st store.Store, e *Engine, clk *clock, final ...string) store.RemediationRun {
	t.Helper()
	openIncident(t, st, e, "inc-1", firing(clk, "srv-r12-01", "HostDown"))
	runs := listRuns(t, st, store.RemediationFilter{IncidentID: "inc-1"})
	if len(runs) != 1 || runs[0].Status != StatusProposed {
		t.Fatalf("runs %+v, want one proposed", runs)
	}
	startWorker(t, e)
	if len(final) == 0 {
		final = []string{StatusSucceeded, StatusFailed}
	}
	return waitRun(t, st, runs[0].ID, final...)
}

// TestExecStdinDocument: the script reads the run's JSON on stdin.
func TestExecStdinDocument(t *testing.T) {
	dir := t.TempDir()
	got := filepath.Join(dir, "stdin.json")
	cmd := script(t, dir, "cat > "+got+"\necho drained $FLEETWATCH_SERVER")
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig(cmd, ""))
	run := runOne(t, st, e, clk)
	if run.Status != StatusSucceeded || run.Output != "drained srv-r12-01\n" {
		t.Fatalf("run %+v", run)
	}
	raw, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	var doc Document
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("stdin is not the document: %v\n%s", err, raw)
	}
	if doc.Version != 1 || doc.Run.ID != run.ID || doc.Run.Remediation != "drain" || doc.Run.Action != "exec" {
		t.Errorf("run part %+v", doc.Run)
	}
	if doc.Incident.ID != "inc-1" || doc.Incident.State != store.Triggered {
		t.Errorf("incident part %+v", doc.Incident)
	}
	if doc.Server.Hostname != "srv-r12-01" || doc.Server.Rack != "R12" || doc.Server.BMC != "srv-r12-01-bmc" || doc.Server.Switch != "sw-r12" {
		t.Errorf("server part %+v", doc.Server)
	}
	if len(doc.Alerts) != 1 || doc.Alerts[0].Labels["alertname"] != "HostDown" {
		t.Errorf("alerts %+v", doc.Alerts)
	}
	// The timeline has started and finished events with the output.
	fin := listEvents(t, st, "inc-1", store.EventRemediationFinished)
	if len(listEvents(t, st, "inc-1", store.EventRemediationStarted)) != 1 || len(fin) != 1 ||
		!strings.Contains(string(fin[0].Data), "drained srv-r12-01") {
		t.Errorf("timeline: finished %+v", fin)
	}
}

// TestExecExitStatus: a non-zero exit fails the run, escalates, and keeps
// the output.
func TestExecExitStatus(t *testing.T) {
	dir := t.TempDir()
	cmd := script(t, dir, "echo cannot drain >&2\nexit 3")
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig(cmd, ""))
	run := runOne(t, st, e, clk)
	if run.Status != StatusFailed || !strings.Contains(run.Reason, "exit status 3") || !strings.Contains(run.Output, "cannot drain") {
		t.Fatalf("run %+v", run)
	}
	esc := listEvents(t, st, "inc-1", store.EventIncidentEscalated)
	if len(esc) != 1 || !strings.Contains(esc[0].Summary, "exit status 3") {
		t.Errorf("escalation events %+v", esc)
	}
}

// TestExecMinimalEnvironment: the script sees PATH, the FLEETWATCH_*
// variables and the configured env, and nothing of fleetwatch's own
// environment.
func TestExecMinimalEnvironment(t *testing.T) {
	const secret = "fleetwatch-db-password-81c2"
	t.Setenv("FLEETWATCH_TEST_DB_PASSWORD", secret)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env.txt")
	cmd := script(t, dir, "env > "+envFile)
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig(cmd, "        env: {DRAIN_MODE: soft}"))
	if run := runOne(t, st, e, clk); run.Status != StatusSucceeded {
		t.Fatalf("run %+v", run)
	}
	raw, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	env := string(raw)
	if strings.Contains(env, secret) || strings.Contains(env, "FLEETWATCH_TEST_DB_PASSWORD") {
		t.Errorf("the script saw fleetwatch's environment:\n%s", env)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(env), "\n") {
		k, _, _ := strings.Cut(line, "=")
		names[k] = true
	}
	for _, want := range []string{"PATH", "DRAIN_MODE", "FLEETWATCH_RUN_ID", "FLEETWATCH_INCIDENT_ID", "FLEETWATCH_SERVER", "FLEETWATCH_BMC", "FLEETWATCH_REMEDIATION"} {
		if !names[want] {
			t.Errorf("%s missing from the script's environment:\n%s", want, env)
		}
	}
	// sh itself adds PWD, SHLVL and _; nothing else may appear.
	for k := range names {
		switch {
		case k == "PATH", k == "DRAIN_MODE", strings.HasPrefix(k, "FLEETWATCH_"), k == "PWD", k == "SHLVL", k == "_", k == "OLDPWD":
		default:
			t.Errorf("unexpected variable %s in the script's environment", k)
		}
	}
}

// TestExecTimeoutKillsProcessGroup: at the timeout the script and the
// children it started are killed; the run fails with the reason timeout.
func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "child.pid")
	cmd := script(t, dir, "sleep 60 &\necho $! > "+pidFile+"\necho started\nwait")
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig(cmd, "    guards: {timeout: 300ms}"))
	run := runOne(t, st, e, clk)
	if run.Status != StatusFailed || !strings.HasPrefix(run.Reason, "timeout: killed after 300ms") || !strings.Contains(run.Output, "started") {
		t.Fatalf("run %+v", run)
	}
	raw, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	// The child may take a moment to be reaped by init; it must go.
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && !isZombie(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d of the script still runs after the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if esc := listEvents(t, st, "inc-1", store.EventIncidentEscalated); len(esc) != 1 {
		t.Errorf("escalations %+v", esc)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "Z")
}

// TestExecOutputBounded: only the first MaxOutput bytes are kept.
func TestExecOutputBounded(t *testing.T) {
	dir := t.TempDir()
	cmd := script(t, dir, "head -c 100000 /dev/zero | tr '\\0' x")
	st, clk := openStore(t), newClock()
	e := newEngine(t, st, clk, execConfig(cmd, ""))
	run := runOne(t, st, e, clk)
	if run.Status != StatusSucceeded {
		t.Fatalf("run %+v", run)
	}
	if n := strings.Count(run.Output, "x"); n != MaxOutput {
		t.Errorf("kept %d bytes, want %d", n, MaxOutput)
	}
	if !strings.Contains(run.Output, fmt.Sprintf("%d more bytes not kept", 100000-MaxOutput)) {
		t.Errorf("output does not say it was cut: %q", run.Output[len(run.Output)-60:])
	}
}

//go:build unix

package remediate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// defaultPath is the PATH a command gets when fleetwatch has none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execEnv is the whole environment of a command: PATH, the FLEETWATCH_*
// variables and the configured env. Nothing else of fleetwatch's own
// environment (which may hold secrets) is passed.
func execEnv(c *ExecAction, doc Document) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = defaultPath
	}
	env := []string{
		"PATH=" + path,
		"FLEETWATCH_RUN_ID=" + strconv.FormatInt(doc.Run.ID, 10),
		"FLEETWATCH_REMEDIATION=" + doc.Run.Remediation,
		"FLEETWATCH_INCIDENT_ID=" + doc.Incident.ID,
		"FLEETWATCH_SERVER=" + doc.Server.Hostname,
		"FLEETWATCH_BMC=" + doc.Server.BMC,
	}
	for k, v := range c.Env {
		env = append(env, k+"="+v)
	}
	return env
}

// runExec runs the command in a process group of its own with doc as JSON
// on stdin, keeping the first MaxOutput bytes of stdout and stderr. When
// ctx ends (the timeout) the whole group is killed.
func runExec(ctx context.Context, c *ExecAction, doc Document) (string, error) {
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(c.Timeout))
		defer cancel()
	}
	stdin, err := json.Marshal(doc)
	if err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, c.Command[0], c.Command[1:]...)
	cmd.Env = execEnv(c, doc)
	cmd.Dir = os.TempDir()
	cmd.Stdin = bytes.NewReader(stdin)
	out := &boundedBuffer{max: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	// A grandchild that keeps the output pipe open must not hold Wait.
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		// Whatever the group left behind goes too.
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return out.String(), fmt.Errorf("command %q killed with its process group after %s: %w",
			c.Command[0], fmtAge(time.Since(start)), context.Cause(ctx))
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return out.String(), fmt.Errorf("command %q: exit status %d", c.Command[0], ee.ExitCode())
		}
		return out.String(), fmt.Errorf("command %q: %w", c.Command[0], err)
	}
	return out.String(), nil
}

package unittest

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestCompatibilityWithPromtool runs every unit-test file of
// testdata/compat under Debian's promtool and under Run: both must give the
// verdict the file name promises (pass_… or fail_…).
func TestCompatibilityWithPromtool(t *testing.T) {
	promtool := testpeer.Need(t, "promtool")
	files, err := filepath.Glob("testdata/compat/*_test.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no compat files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want := ExitSuccess
			if strings.HasPrefix(filepath.Base(f), "fail_") {
				want = ExitFailure
			}
			var pout bytes.Buffer
			cmd := exec.Command(promtool, "test", "rules", f)
			cmd.Stdout, cmd.Stderr = &pout, &pout
			peer := 0
			if err := cmd.Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatalf("promtool: %v", err)
				}
				peer = ee.ExitCode()
			}
			var out, errOut bytes.Buffer
			got := Run(&out, &errOut, Options{}, f)
			if peer != want {
				t.Errorf("promtool exit %d, file promises %d:\n%s", peer, want, pout.String())
			}
			if got != peer {
				t.Errorf("Run exit %d, promtool %d\nfleetwatch:\n%s%s\npromtool:\n%s", got, peer, out.String(), errOut.String(), pout.String())
			}
			if !strings.HasPrefix(out.String(), "Processing test file: "+f+"\n") {
				t.Errorf("stdout does not start like promtool's: %q", out.String())
			}
			if want == ExitSuccess && !strings.Contains(out.String(), "  SUCCESS\n") {
				t.Errorf("no SUCCESS line: %q", out.String())
			}
			if want == ExitFailure && !strings.HasPrefix(errOut.String(), "  FAILED:\n") && !strings.Contains(errOut.String(), "\n  FAILED:\n") {
				t.Errorf("no FAILED line on stderr: %q", errOut.String())
			}
		})
	}
}

package rules

import (
	"bytes"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// TestCheckFilesMatchesPromtool: each file gets promtool check rules'
// verdict, and every error names the file and the line.
func TestCheckFilesMatchesPromtool(t *testing.T) {
	promtool := testpeer.Need(t, "promtool")
	for _, tc := range []struct {
		file     string
		wantExit int
		// wantErr must appear on stderr: file:line[:col] and the problem.
		wantErr string
		wantOut string
	}{
		{"good.yml", 0, "", "  SUCCESS: 2 rules found\n"},
		{"duplicate_rules.yml", 0, "1 duplicate rule(s) found.", ""},
		{"bad_yaml.yml", 1, "bad_yaml.yml: yaml: line 3: did not find expected '-' indicator", ""},
		{"bad_promql.yml", 1, `bad_promql.yml: 7:15: group "bad", rule 2, "Broken": could not parse expression`, ""},
		{"duplicate_group.yml", 1, `duplicate_group.yml: 6:5: groupname: "same" is repeated in the same file`, ""},
		{"bad_template.yml", 1, `bad_template.yml: 4:9: group "tmpl", rule 1, "BadTemplate": annotation "summary": template: __alert_BadTemplate:1: unclosed action`, ""},
		{"unknown_field.yml", 1, "unknown_field.yml: yaml: unmarshal errors:\n  line 6: field severity not found", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "check", tc.file)
			peer := 0
			if err := exec.Command(promtool, "check", "rules", path).Run(); err != nil {
				var ee *exec.ExitError
				if !errors.As(err, &ee) {
					t.Fatal(err)
				}
				peer = ee.ExitCode()
			}
			var out, errOut bytes.Buffer
			got := CheckFiles(&out, &errOut, path)
			if peer != tc.wantExit {
				t.Errorf("promtool exit %d, want %d", peer, tc.wantExit)
			}
			if got != peer {
				t.Errorf("CheckFiles exit %d, promtool %d\nstdout:\n%s\nstderr:\n%s", got, peer, out.String(), errOut.String())
			}
			if !strings.HasPrefix(out.String(), "Checking "+path+"\n") {
				t.Errorf("stdout %q does not start with Checking", out.String())
			}
			if tc.wantErr != "" && !strings.Contains(errOut.String(), tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", errOut.String(), tc.wantErr)
			}
			if tc.wantOut != "" && !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("stdout %q does not contain %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestCheckFilesSeveralFiles(t *testing.T) {
	var out, errOut bytes.Buffer
	code := CheckFiles(&out, &errOut, "testdata/check/good.yml", "testdata/check/bad_promql.yml", "pack:server")
	if code != ExitFailure {
		t.Errorf("exit %d, want 1: one bad file fails the run", code)
	}
	if !strings.Contains(out.String(), "Checking pack:server\n  SUCCESS: 15 rules found") {
		t.Errorf("the files after a bad one are still checked: %q", out.String())
	}
	if CheckFiles(&out, &errOut) != ExitFailure {
		t.Error("no files: exit 0")
	}
}

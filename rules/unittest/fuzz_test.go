package unittest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
	yaml "go.yaml.in/yaml/v2"
)

// FuzzUnitTestFile decodes arbitrary unit-test files and their input series
// as Run does: it must never panic.
func FuzzUnitTestFile(f *testing.F) {
	files, _ := filepath.Glob("testdata/compat/*_test.yml")
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err == nil {
			f.Add(b)
		}
	}
	p := parser.NewParser(parser.Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var utf unitTestFile
		if err := yaml.UnmarshalStrict(b, &utf); err != nil {
			return
		}
		for _, tg := range utf.Tests {
			for _, s := range tg.InputSeries {
				_, _, _ = p.ParseSeriesDesc(s.Series + " " + s.Values)
			}
			_ = tg.maxEvalTime()
		}
	})
}

// TestRunOurExtensions covers what promtool 2.42 cannot run (so it is not
// in the compatibility set): keep_firing_for, query_offset, group limit,
// packs by name and anomaly items in rule files.
func TestRunOurExtensions(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := Run(&out, &errOut, Options{}, "testdata/extensions_test.yml"); code != ExitSuccess {
		t.Fatalf("exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := Run(&out, &errOut, Options{Run: []string{"^limit"}}, "testdata/extensions_fail_test.yml"); code != ExitFailure {
		t.Fatalf("exit %d, want 1 (limit exceeded is an evaluation error)\n%s%s", code, out.String(), errOut.String())
	}
	if !bytes.Contains(errOut.Bytes(), []byte("exceeded limit of 1 with 2 alerts")) {
		t.Errorf("stderr %q", errOut.String())
	}
}

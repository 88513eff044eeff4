package acceptance

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// binary is the fleetwatch binary TestMain builds for every test of the
// package (one build, about 15 s warm).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleetwatch-acceptance-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "fleetwatch")
	cmd := exec.Command("go", "build", "-o", binary, "../../cmd/fleetwatch")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/fleetwatch: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

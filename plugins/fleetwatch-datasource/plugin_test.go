package fleetwatchdatasource

import (
	"archive/zip"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
	"github.com/fleetwatch/fleetwatch/plugins/fleetwatch-datasource/fwds"
)

type pluginJSON struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	Name        string `json:"name"`
	Backend     bool   `json:"backend"`
	Executable  string `json:"executable"`
	Annotations bool   `json:"annotations"`
	Metrics     bool   `json:"metrics"`
	Info        struct {
		Version string `json:"version"`
		Logos   struct {
			Small, Large string
		} `json:"logos"`
	} `json:"info"`
	Dependencies struct {
		GrafanaDependency string `json:"grafanaDependency"`
	} `json:"dependencies"`
}

func readPluginJSON(t *testing.T) pluginJSON {
	t.Helper()
	b, err := os.ReadFile("plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	var p pluginJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("plugin.json: %v", err)
	}
	return p
}

// TestPluginJSON: what Grafana's loader reads agrees with the code.
func TestPluginJSON(t *testing.T) {
	p := readPluginJSON(t)
	checks := []struct {
		name     string
		ok       bool
		got, msg string
	}{
		{"type", p.Type == "datasource", p.Type, "a datasource"},
		{"id", p.ID == fwds.PluginID, p.ID, "fwds.PluginID"},
		{"id form", strings.HasSuffix(p.ID, "-datasource") && strings.Count(p.ID, "-") >= 2, p.ID, "<org>-<name>-datasource"},
		{"backend", p.Backend, "", "backend: true"},
		{"executable", p.Executable == filepath.Base(mustAbs(t, "cmd/gpx_fleetwatch")), p.Executable, "the cmd folder's name"},
		{"annotations", p.Annotations && p.Metrics, "", "annotations and metrics"},
		{"version", p.Info.Version != "", p.Info.Version, "a version"},
		{"grafana", strings.HasPrefix(p.Dependencies.GrafanaDependency, ">="), p.Dependencies.GrafanaDependency, ">=X"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Errorf("plugin.json %s = %q, want %s", c.name, c.got, c.msg)
			}
		})
	}
	for _, logo := range []string{p.Info.Logos.Small, p.Info.Logos.Large} {
		if _, err := os.Stat(logo); err != nil {
			t.Errorf("logo: %v", err)
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFrontendModule loads module.js as Grafana's SystemJS does (AMD, the
// shared @grafana modules stood in for) and checks the datasource class,
// annotations, variable interpolation and both editors.
func TestFrontendModule(t *testing.T) {
	node := testpeer.Need(t, "node")
	out, err := exec.Command(node, "testdata/module_test.js", "module.js").CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// TestPackage builds the zip with package.sh and checks the layout Grafana
// installs: one folder named after the id, plugin.json, module.js, the
// logo and gpx_fleetwatch_<os>_<arch>, executable.
func TestPackage(t *testing.T) {
	testpeer.Need(t, "zip")
	dir := t.TempDir()
	out, err := exec.Command("./package.sh", dir, "linux/amd64").CombinedOutput()
	if err != nil {
		t.Fatalf("package.sh: %v\n%s", err, out)
	}
	p := readPluginJSON(t)
	zipPath := filepath.Join(dir, p.ID+"-"+p.Info.Version+".zip")
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	mode := map[string]os.FileMode{}
	for _, f := range zr.File {
		if !f.FileInfo().IsDir() {
			names = append(names, f.Name)
			mode[f.Name] = f.Mode()
		}
	}
	sort.Strings(names)
	want := []string{
		p.ID + "/README.md",
		p.ID + "/" + p.Executable + "_linux_amd64",
		p.ID + "/img/logo.svg",
		p.ID + "/module.js",
		p.ID + "/plugin.json",
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Errorf("zip holds\n%s\nwant\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if m := mode[p.ID+"/"+p.Executable+"_linux_amd64"]; m&0o111 == 0 {
		t.Errorf("binary mode %v is not executable", m)
	}
}

package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
)

var update = flag.Bool("update", false, "rewrite grafana/*.json from the definitions")

// TestGenerated checks that grafana/*.json, the files Grafana loads, are
// exactly what the definitions render (refresh with -update), and that no
// stray dashboard file sits there.
func TestGenerated(t *testing.T) {
	want := map[string]bool{}
	for _, d := range All() {
		name := d.UID + ".json"
		want[name] = true
		t.Run(d.UID, func(t *testing.T) {
			got, err := Render(d)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("grafana", name)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			disk, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./dashboards -run TestGenerated -update)", err)
			}
			if !bytes.Equal(disk, got) {
				t.Errorf("%s differs from its definition: run go test ./dashboards -run TestGenerated -update", path)
			}
		})
	}
	files, _ := filepath.Glob("grafana/*.json")
	for _, f := range files {
		if !want[filepath.Base(f)] {
			t.Errorf("%s is not generated from any definition", f)
		}
	}
}

// loadFiles returns every dashboard file Grafana would load, by path.
func loadFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("grafana/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under grafana/: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = b
	}
	return out
}

// TestSchema validates every dashboard file against Grafana's dashboard
// schema as the grafana-foundation-sdk encodes it: strict decoding (no
// unknown or mistyped field, in the dashboard, variables, panels, the
// Prometheus queries and the options of each panel type) and Validate (the
// schema's constraints), then fleetwatch's own rules.
func TestSchema(t *testing.T) {
	plugins.RegisterDefaultPlugins()
	for path, raw := range loadFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			var d dashboard.Dashboard
			if err := buildErr(d.UnmarshalJSONStrict(raw)); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := buildErr(d.Validate()); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if d.SchemaVersion != SchemaVersion {
				t.Errorf("%s: schemaVersion %d, want %d", path, d.SchemaVersion, SchemaVersion)
			}
			if err := checkModel(raw); err != nil {
				t.Errorf("%s: %v", path, err)
			}
		})
	}
}

// buildErr returns nil for the SDK's empty error list (its strict decoder
// returns a nil cog.BuildErrors as a non-nil error).
func buildErr(err error) error {
	var be cog.BuildErrors
	if errors.As(err, &be) && len(be) == 0 {
		return nil
	}
	return err
}

// checkModel holds what the schema cannot say: the datasource is a
// variable, ids and refIds are unique, panels do not overlap and stay in the
// 24-column grid, every variable a query uses is defined, and every PromQL
// expression parses once its variables are expanded.
func checkModel(raw []byte) error {
	m, err := Decode(raw)
	if err != nil {
		return err
	}
	if m.UID == "" || m.Title == "" {
		return fmt.Errorf("uid and title are required")
	}
	vars := map[string]bool{}
	for _, v := range m.Templating.List {
		vars[v.Name] = true
		if v.Type == "query" && v.Datasource.UID != "${"+DatasourceVar+"}" {
			return fmt.Errorf("variable %q: datasource %q, want the $%s variable", v.Name, v.Datasource.UID, DatasourceVar)
		}
	}
	if !vars[DatasourceVar] {
		return fmt.Errorf("no %q variable", DatasourceVar)
	}
	values := map[string][]string{}
	for name := range vars {
		values[name] = []string{".*"}
	}
	ids := map[int]bool{}
	type cell struct{ x, y int }
	used := map[cell]string{}
	p := parser.NewParser(parser.Options{})
	for _, pn := range m.Panels {
		if ids[pn.ID] {
			return fmt.Errorf("panel %q: id %d used twice", pn.Title, pn.ID)
		}
		ids[pn.ID] = true
		if !strings.HasPrefix(pn.Datasource.UID, "${") {
			return fmt.Errorf("panel %q: datasource uid %q is not a variable", pn.Title, pn.Datasource.UID)
		}
		g := pn.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			return fmt.Errorf("panel %q: gridPos %+v outside the 24-column grid", pn.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := used[cell{x, y}]; ok {
					return fmt.Errorf("panel %q overlaps panel %q", pn.Title, other)
				}
				used[cell{x, y}] = pn.Title
			}
		}
		refs := map[string]bool{}
		for _, tg := range pn.Targets {
			if refs[tg.RefID] || tg.RefID == "" {
				return fmt.Errorf("panel %q: refId %q empty or repeated", pn.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if pn.Datasource.Type != PrometheusType {
				continue
			}
			expr, err := Expand(tg.Expr, values, Interval{Range: 3600e9})
			if err != nil {
				return fmt.Errorf("panel %q query %s: %w", pn.Title, tg.RefID, err)
			}
			if _, err := p.ParseExpr(expr); err != nil {
				return fmt.Errorf("panel %q query %s: %q: %w", pn.Title, tg.RefID, expr, err)
			}
		}
	}
	return nil
}

// TestRenderErrors: definitions Grafana would load wrongly are refused,
// naming the dashboard and panel or variable.
func TestRenderErrors(t *testing.T) {
	ok := Panel{Title: "p", Type: "timeseries", Queries: []Query{{Expr: "up"}}}
	cases := []struct {
		name string
		d    Dashboard
		want string
	}{
		{"no uid", Dashboard{Title: "x", Panels: []Panel{ok}}, "uid"},
		{"no query", Dashboard{UID: "u", Panels: []Panel{{Title: "empty", Type: "stat"}}}, `panel "empty" has no query`},
		{"unknown variable", Dashboard{UID: "u", Panels: []Panel{{Title: "p", Type: "stat", Queries: []Query{{Expr: `up{site=~"$site"}`}}}}}, "$site"},
		{"variable order", Dashboard{UID: "u", Vars: []Var{{Name: "rack", Query: `label_values(up{site=~"$site"}, rack)`}, {Name: "site", Query: "label_values(site)"}}, Panels: []Panel{ok}}, `variable "rack"`},
		{"unknown type", Dashboard{UID: "u", Panels: []Panel{{Title: "p", Type: "graph", Queries: []Query{{Expr: "up"}}}}}, `unknown panel type "graph"`},
		{"plugin without variable", Dashboard{UID: "u", Panels: []Panel{{Title: "p", Type: "table", Plugin: []PluginQuery{{QueryType: "incidents"}}}}}, "incidents datasource"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Render(c.d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestProvisioning: the provisioning files point at the dashboards folder
// and at fleetwatch's address.
func TestProvisioning(t *testing.T) {
	cases := []struct{ file, want string }{
		{"provisioning/dashboards/fleetwatch.yml", "/var/lib/grafana/dashboards/fleetwatch"},
		{"provisioning/datasources/fleetwatch.yml", "http://127.0.0.1:9470"},
		{"provisioning/datasources/fleetwatch.yml", "implementation: prometheus"},
		{"provisioning/datasources/fleetwatch.yml", "type: " + PluginType},
	}
	for _, c := range cases {
		t.Run(c.file+" "+c.want, func(t *testing.T) {
			b, err := os.ReadFile(c.file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), c.want) {
				t.Errorf("%s does not contain %q", c.file, c.want)
			}
		})
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for path, raw := range loadFiles(t) {
		m, err := Decode(raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(m.Panels) == 0 {
			t.Errorf("%s: no panels", path)
		}
		var generic map[string]any
		if err := json.Unmarshal(raw, &generic); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(generic["uid"]) != m.UID {
			t.Errorf("%s: uid %v != %v", path, generic["uid"], m.UID)
		}
	}
}

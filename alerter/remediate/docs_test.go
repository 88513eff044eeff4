package remediate

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestDocs: the examples in docs/remediation.md parse, and every config
// key and metric is documented there.
func TestDocs(t *testing.T) {
	raw, err := os.ReadFile("../../docs/remediation.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	examples := 0
	for _, block := range strings.Split(doc, "```yaml\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		if !strings.HasPrefix(body, "remediations:") {
			continue
		}
		examples++
		c, err := Parse("docs/remediation.md", []byte(body))
		if err != nil {
			t.Errorf("example %d: %v", examples, err)
			continue
		}
		kinds := map[string]bool{}
		for _, r := range c.Remediations {
			kinds[r.Action.Kind()] = true
		}
		if examples == 1 && len(kinds) != 4 {
			t.Errorf("the main example shows actions %v, want all four", kinds)
		}
	}
	if examples == 0 {
		t.Fatal("no remediations example in docs/remediation.md")
	}
	for _, key := range yamlKeys(reflect.TypeFor[Remediation](), "") {
		if !strings.Contains(doc, "`"+key+"`") {
			t.Errorf("key %s is not documented", key)
		}
	}
	for _, m := range []string{"fleetwatch_remediation_runs_total", "fleetwatch_remediation_running", "fleetwatch_remediation_run_duration_seconds"} {
		if !strings.Contains(doc, "`"+m+"`") {
			t.Errorf("metric %s is not documented", m)
		}
	}
	for _, g := range GuardOrder {
		if !strings.Contains(doc, "| `"+g+"` |") {
			t.Errorf("guard %s missing from the guard order table", g)
		}
	}
}

// yamlKeys lists the dotted keys of the leaves of t.
func yamlKeys(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct {
			out = append(out, yamlKeys(ft, prefix+name+".")...)
			continue
		}
		out = append(out, prefix+name)
	}
	return out
}

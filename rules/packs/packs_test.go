package packs_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"github.com/fleetwatch/fleetwatch/internal/testpeer"
	"github.com/fleetwatch/fleetwatch/rules"
	"github.com/fleetwatch/fleetwatch/rules/packs"
	"github.com/fleetwatch/fleetwatch/rules/unittest"
)

func TestNames(t *testing.T) {
	got := strings.Join(packs.Names(), ",")
	if got != "latency,network,server" {
		t.Fatalf("Names() = %s", got)
	}
	for _, bad := range []string{"", "nope", "../server", "server.yml"} {
		if _, err := packs.Read(bad); err == nil {
			t.Errorf("Read(%q) succeeded", bad)
		}
	}
}

// TestPacksPassTheirUnitTests runs each pack's promtool-format tests with
// fleetwatch's runner and with Debian's promtool: both must pass.
func TestPacksPassTheirUnitTests(t *testing.T) {
	promtool := testpeer.Need(t, "promtool")
	for _, name := range packs.Names() {
		t.Run(name, func(t *testing.T) {
			file := name + "_test.yml"
			var out, errOut bytes.Buffer
			if code := unittest.Run(&out, &errOut, unittest.Options{}, file); code != unittest.ExitSuccess {
				t.Errorf("fleetwatch rules test %s: exit %d\n%s%s", file, code, out.String(), errOut.String())
			}
			if b, err := exec.Command(promtool, "test", "rules", file).CombinedOutput(); err != nil {
				t.Errorf("promtool test rules %s: %v\n%s", file, err, b)
			}
		})
	}
}

// TestPacksCheck: every pack is a valid rule file for `rules check`, loaded
// by name, and every alert carries severity, summary, description and
// runbook_url.
func TestPacksCheck(t *testing.T) {
	for _, name := range packs.Names() {
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := rules.CheckFiles(&out, &errOut, rules.PackPrefix+name); code != rules.ExitSuccess {
				t.Fatalf("rules check pack:%s: exit %d\n%s%s", name, code, out.String(), errOut.String())
			}
			rgs, errs := rules.ParseRuleFile(rules.PackPrefix+name, false, nil, nil)
			if errs != nil {
				t.Fatal(errs)
			}
			for _, g := range rgs.Groups {
				for _, r := range g.Rules {
					if r.Alert == "" {
						continue
					}
					if r.Labels["severity"] == "" {
						t.Errorf("%s: no severity label", r.Alert)
					}
					for _, a := range []string{"summary", "description", "runbook_url"} {
						if r.Annotations[a] == "" {
							t.Errorf("%s: no %s annotation", r.Alert, a)
						}
					}
				}
			}
		})
	}
}

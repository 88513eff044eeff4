package snmp

import (
	"testing"
)

// TestModulesGolden polls every recording with every built-in module through
// snmpsim and compares the samples with testdata/golden/<module>/<recording>.prom.
func TestModulesGolden(t *testing.T) {
	addr := startSnmpsim(t)
	c := newTestCollector(t, func(c *Config) { c.Auths = communityAuths() })
	for _, mod := range BuiltinModules() {
		for _, rec := range recordings {
			t.Run(mod+"/"+rec, func(t *testing.T) {
				app, err := collect(t, c, addr, map[string]string{ParamModule: mod, ParamAuth: rec})
				if err != nil {
					t.Fatalf("collect: %v", err)
				}
				if len(app.dups) > 0 {
					t.Errorf("%d duplicate series, first %s", len(app.dups), app.dups[0])
				}
				if app.samples[`{__name__="snmp_scrape_errors", kind="timeout"}`] != 0 {
					t.Errorf("poll had timeouts")
				}
				checkGolden(t, mod+"/"+rec+".prom", app.text(isSelfMetric))
			})
		}
	}
}

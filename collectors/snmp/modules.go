package snmp

import (
	"embed"
	"fmt"
	"sort"
)

//go:embed modules/*.yml
var builtinFS embed.FS

// module is a module ready to poll: what to ask for and how to turn the
// answers into samples.
type module struct {
	name    string
	get     []string
	walk    []string
	metrics []*Metric
	tree    *metricNode
	// custom converts what the generic snmp.yml rules cannot express.
	custom func(c *converter, res *customResult)
}

// customResult collects data a custom module learns besides samples.
type customResult struct {
	neighbors []Neighbor
}

func compileModule(name string, m *Module) *module {
	return &module{name: name, get: m.Get, walk: m.Walk, metrics: m.Metrics, tree: buildMetricTree(m.Metrics)}
}

// BuiltinModules lists the names of the modules fleetwatch has without any
// snmp.yml.
func BuiltinModules() []string {
	return []string{"entity_sensor", "host_resources", "if_mib", "lldp", "ucd"}
}

// builtinModules loads the embedded modules.
func builtinModules() (map[string]*module, error) {
	out := map[string]*module{}
	entries, err := builtinFS.ReadDir("modules")
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		data, err := builtinFS.ReadFile("modules/" + e.Name())
		if err != nil {
			return nil, err
		}
		cfg, err := ParseExporterConfig("builtin/"+e.Name(), data)
		if err != nil {
			return nil, err
		}
		for n, m := range cfg.Modules {
			out[n] = compileModule(n, m)
		}
	}
	out["entity_sensor"] = entitySensorModule()
	out["lldp"] = lldpModule()
	for _, n := range BuiltinModules() {
		if out[n] == nil {
			return nil, fmt.Errorf("built-in module %s missing", n)
		}
	}
	return out, nil
}

// loadModules returns the built-in modules plus those of files (a module in
// a file shadows a built-in one of the same name) and the auths the files
// define.
func loadModules(files []string) (map[string]*module, map[string]*Auth, error) {
	mods, err := builtinModules()
	if err != nil {
		return nil, nil, err
	}
	auths := map[string]*Auth{}
	for _, f := range files {
		cfg, err := LoadExporterConfig(f)
		if err != nil {
			return nil, nil, err
		}
		names := make([]string, 0, len(cfg.Modules))
		for n := range cfg.Modules {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			mods[n] = compileModule(n, cfg.Modules[n])
		}
		for n, a := range cfg.Auths {
			auths[n] = a
		}
	}
	return mods, auths, nil
}

package packs

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

// files holds the packs. embed requires a package-level variable; it is
// read-only.
//
//go:embed server.yml network.yml latency.yml
var files embed.FS

// Names returns the names of the built-in packs, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(files, ".")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yml"))
	}
	sort.Strings(names)
	return names
}

// Read returns the rule file of the named pack.
func Read(name string) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, "/\\.") {
		return nil, fmt.Errorf("unknown rule pack %q (have %s)", name, strings.Join(Names(), ", "))
	}
	b, err := files.ReadFile(name + ".yml")
	if err != nil {
		return nil, fmt.Errorf("unknown rule pack %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return b, nil
}

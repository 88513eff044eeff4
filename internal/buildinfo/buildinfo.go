// Package buildinfo says which fleetwatch this is: version, revision and
// build date, set by the Makefile through -ldflags, with the Go toolchain's
// own build information as the fallback.
package buildinfo

import (
	"runtime"
	"runtime/debug"
)

// Set by -ldflags "-X github.com/fleetwatch/fleetwatch/internal/buildinfo.Version=…".
var (
	Version   = "0.1.0-dev"
	Revision  = ""
	Branch    = ""
	BuildUser = ""
	BuildDate = ""
)

// Info is the build information of the running binary.
type Info struct {
	Version, Revision, Branch, BuildUser, BuildDate, GoVersion string
}

// Get returns the build information.
func Get() Info {
	i := Info{Version: Version, Revision: Revision, Branch: Branch, BuildUser: BuildUser, BuildDate: BuildDate, GoVersion: runtime.Version()}
	if i.Revision == "" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					i.Revision = s.Value
				case "vcs.time":
					if i.BuildDate == "" {
						i.BuildDate = s.Value
					}
				}
			}
		}
	}
	return i
}

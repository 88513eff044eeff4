package main

import (
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/fleetwatch/fleetwatch/alerter/incidentapi"
)

// incidentCommands registers `fleetwatch incidents …`, a client of a running
// fleetwatch's incidents API; its arguments are parsed by incidentapi.RunCLI.
func incidentCommands(a *kingpin.Application, stdout, stderr io.Writer) map[string]func() int {
	cmd := a.Command("incidents", "Work incidents on a running fleetwatch: list, show, ack, resolve, note, approve (`fleetwatch incidents help` for the flags).")
	args := cmd.Arg("args", "Subcommand and its flags, e.g. `list --state triggered` or `ack INC-ID`.").Strings()
	return map[string]func() int{cmd.FullCommand(): func() int {
		return incidentapi.RunCLI(*args, stdout, stderr)
	}}
}

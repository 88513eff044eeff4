package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/fleetwatch/fleetwatch/collectors/redfish"
	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/config"
)

// deviceCommands registers `fleetwatch snmp walk|get` and `fleetwatch
// redfish get`: troubleshooting with the credentials of a configured job.
func deviceCommands(a *kingpin.Application, stdout, stderr io.Writer) map[string]func() int {
	snmpCmd := a.Command("snmp", "Ask an SNMP agent directly, with a job's credentials.")
	snmpConfig := snmpCmd.Flag("config.file", "fleetwatch.yml whose credentials to use (none: SNMP v2c, community public).").Short('c').String()
	snmpJob := snmpCmd.Flag("job", "snmp job whose settings to use (default: the first snmp job).").String()
	snmpAuth := snmpCmd.Flag("auth", "Name of the snmp_auths entry to use instead of the job's.").String()
	timeout := snmpCmd.Flag("timeout", "Give up after this long.").Default("30s").Duration()
	walk := snmpCmd.Command("walk", "Walk OID subtrees (GETBULK) and print every varbind.")
	walkTarget := walk.Arg("target", "Agent address, host[:port].").Required().String()
	walkOIDs := walk.Arg("oid", "Numeric OIDs of the subtrees.").Required().Strings()
	get := snmpCmd.Command("get", "GET OIDs and print them.")
	getTarget := get.Arg("target", "Agent address, host[:port].").Required().String()
	getOIDs := get.Arg("oid", "Numeric OIDs.").Required().Strings()

	rfCmd := a.Command("redfish", "Ask a BMC directly, with a job's credentials.")
	rfConfig := rfCmd.Flag("config.file", "fleetwatch.yml whose credentials to use.").Short('c').String()
	rfJob := rfCmd.Flag("job", "redfish job whose settings to use (default: the first redfish job).").String()
	rfTimeout := rfCmd.Flag("timeout", "Give up after this long.").Default("30s").Duration()
	rfGet := rfCmd.Command("get", "GET a Redfish resource and print its JSON.")
	rfBMC := rfGet.Arg("bmc", "BMC address: host, host:port or URL.").Required().String()
	rfPath := rfGet.Arg("path", "Resource path, e.g. /redfish/v1/Systems.").Default("/redfish/v1").String()

	snmpRun := func(do func(context.Context, snmp.Config, string, []string, io.Writer) error, target string, oids []string) int {
		cfg, err := snmpJobConfig(*snmpConfig, *snmpJob)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		if *snmpAuth != "" {
			cfg.Auth = *snmpAuth
		}
		ctx, cancel := commandContext(*timeout)
		defer cancel()
		if err := do(ctx, cfg, target, oids, stdout); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	return map[string]func() int{
		walk.FullCommand(): func() int { return snmpRun(snmp.Walk, *walkTarget, *walkOIDs) },
		get.FullCommand():  func() int { return snmpRun(snmp.Get, *getTarget, *getOIDs) },
		rfGet.FullCommand(): func() int {
			cfg := redfish.DefaultConfig()
			if *rfConfig != "" {
				c, err := config.Load(*rfConfig)
				if err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				jc, err := findJob(c, config.TypeRedfish, *rfJob)
				if err != nil {
					fmt.Fprintln(stderr, err)
					return 1
				}
				cfg = *jc.Redfish
			}
			ctx, cancel := commandContext(*rfTimeout)
			defer cancel()
			if err := redfish.Get(ctx, cfg, *rfBMC, *rfPath, stdout); err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			return 0
		},
	}
}

func snmpJobConfig(file, job string) (snmp.Config, error) {
	if file == "" {
		return snmp.DefaultConfig(), nil
	}
	c, err := config.Load(file)
	if err != nil {
		return snmp.Config{}, err
	}
	jc, err := findJob(c, config.TypeSNMP, job)
	if err != nil {
		if job == "" { // no snmp job: the config's credentials with defaults
			d := snmp.DefaultConfig()
			d.Auths = c.SNMPAuths
			return d, nil
		}
		return snmp.Config{}, err
	}
	return *jc.SNMP, nil
}

// findJob returns the job called name, or the first job of type typ.
func findJob(c *config.Config, typ, name string) (config.JobConfig, error) {
	for _, j := range c.Jobs {
		if (name == "" && j.Type == typ) || (name != "" && j.JobName == name) {
			if j.Type != typ {
				return config.JobConfig{}, fmt.Errorf("%s: job %q is of type %s, not %s", c.File, name, j.Type, typ)
			}
			return j, nil
		}
	}
	if name != "" {
		return config.JobConfig{}, fmt.Errorf("%s: no job %q", c.File, name)
	}
	return config.JobConfig{}, fmt.Errorf("%s: no %s job", c.File, typ)
}

// commandContext ends at the timeout or on SIGINT/SIGTERM.
func commandContext(timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	return ctx, func() { cancel(); stop() }
}

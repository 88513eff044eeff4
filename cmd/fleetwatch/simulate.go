package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/fleetwatch/fleetwatch/simulate/fleet"
)

// simulateCommands registers `fleetwatch simulate`: a simulated datacenter on
// loopback for trials and benchmarks, and the inventory that describes it.
func simulateCommands(a *kingpin.Application, stdout, stderr io.Writer) map[string]func() int {
	cmd := a.Command("simulate", "Run a simulated datacenter on loopback (Redfish BMCs, SNMP switches) until stopped, and write its inventory.")
	sites := cmd.Flag("sites", "Sites.").Default("1").Int()
	racks := cmd.Flag("racks-per-site", "Racks per site; each has a top-of-rack switch.").Default("2").Int()
	servers := cmd.Flag("servers-per-rack", "Servers per rack (at most 48); each has a BMC.").Default("4").Int()
	bmcPort := cmd.Flag("bmc-base-port", "BMC i listens on this port + i (0: free ports).").Default("0").Int()
	switchPort := cmd.Flag("switch-base-port", "Switch i listens on this UDP port + i (0: free ports).").Default("0").Int()
	user := cmd.Flag("bmc-username", "Username the BMCs accept (empty: no authentication).").Default("admin").String()
	passFile := cmd.Flag("bmc-password-file", "File holding the password the BMCs accept.").String()
	latency := cmd.Flag("bmc-latency", "Delay added to every BMC answer.").Default("20ms").Duration()
	control := cmd.Flag("control-address", "Where the BMC fault-injection endpoint listens.").Default("127.0.0.1:9471").String()
	trapTarget := cmd.Flag("trap-target", "Where the switches send linkDown/linkUp traps (host:port; empty: none).").Default("127.0.0.1:9162").String()
	invOut := cmd.Flag("inventory-out", "Write the fleet's inventory.yml here (- for standard output).").Default("-").String()
	return map[string]func() int{cmd.FullCommand(): func() int {
		pass := ""
		if *passFile != "" {
			b, err := os.ReadFile(*passFile)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			pass = string(trimNewline(b))
		}
		if *user != "" && pass == "" {
			fmt.Fprintln(stderr, "--bmc-password-file is required with --bmc-username (use --bmc-username= for BMCs without authentication)")
			return 2
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		logger := slog.New(slog.NewTextHandler(stderr, nil))
		f, err := fleet.Start(ctx, fleet.Options{
			Sites: *sites, RacksPerSite: *racks, ServersPerRack: *servers,
			BMCBasePort: *bmcPort, SwitchBasePort: *switchPort,
			BMCUsername: *user, BMCPassword: pass, BMCLatency: *latency,
			ControlAddr: *control, TrapTarget: *trapTarget, Logger: logger,
		})
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		defer f.Close()
		out := stdout
		if *invOut != "-" {
			file, err := os.Create(*invOut)
			if err != nil {
				fmt.Fprintln(stderr, err)
				return 1
			}
			defer file.Close()
			out = file
		}
		if err := f.Inventory.WriteYAML(out); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		logger.Info("simulated fleet running; stop with Ctrl-C", "servers", len(f.Inventory.Servers),
			"switches", len(f.Inventory.Switches), "fault_control", f.BMCs.ControlURL(), "started", time.Now().Format(time.RFC3339))
		<-ctx.Done()
		return 0
	}}
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

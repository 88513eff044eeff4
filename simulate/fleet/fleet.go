// Package fleet runs a simulated datacenter on loopback: racks of servers
// whose BMCs are simulated Redfish services, one simulated top-of-rack SNMP
// switch per rack whose LLDP table names the rack's servers, and the
// inventory that describes them, so `make run` has a fleet to watch.
package fleet

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"time"

	"github.com/fleetwatch/fleetwatch/inventory"
	"github.com/fleetwatch/fleetwatch/simulate/bmc"
	switchsim "github.com/fleetwatch/fleetwatch/simulate/switch"
)

//go:embed recordings/arista-dcs-7150s-52-cl.snmprec
var aristaRecording []byte

// Options size and place the simulated fleet.
type Options struct {
	// Sites, RacksPerSite and ServersPerRack size the fleet (defaults 1, 2, 4).
	Sites, RacksPerSite, ServersPerRack int
	// Host is the loopback address everything listens on (default 127.0.0.1).
	Host string
	// BMCBasePort and SwitchBasePort fix the ports (BMC i on BMCBasePort+i);
	// 0 picks free ports.
	BMCBasePort, SwitchBasePort int
	// BMCUsername and BMCPassword are what the BMCs accept; an empty
	// username turns their authentication off.
	BMCUsername, BMCPassword string
	// BMCLatency is added to every BMC answer, like a real BMC's slowness.
	BMCLatency time.Duration
	// ControlAddr serves the BMC fault-injection endpoint (e.g. 127.0.0.1:0).
	ControlAddr string
	// TrapTarget receives the switches' linkDown/linkUp traps (host:port).
	TrapTarget string
	Logger     *slog.Logger
}

// Fleet is a running simulated datacenter.
type Fleet struct {
	// Inventory describes it: servers with their BMC addresses and switch
	// ports, switches with their SNMP addresses.
	Inventory *inventory.Inventory
	BMCs      *bmc.Fleet
	Switches  *switchsim.Fleet
}

func (o *Options) defaults() {
	if o.Sites <= 0 {
		o.Sites = 1
	}
	if o.RacksPerSite <= 0 {
		o.RacksPerSite = 2
	}
	if o.ServersPerRack <= 0 {
		o.ServersPerRack = 4
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Start runs the fleet until ctx ends.
func Start(ctx context.Context, o Options) (*Fleet, error) {
	o.defaults()
	if o.ServersPerRack > 48 {
		return nil, fmt.Errorf("servers_per_rack %d: a simulated switch has 48 server ports", o.ServersPerRack)
	}
	rec, err := switchsim.ParseRecording(bytes.NewReader(aristaRecording))
	if err != nil {
		return nil, fmt.Errorf("simulated switch recording: %w", err)
	}
	inv := &inventory.Inventory{}
	var switches []switchsim.SwitchOptions
	for s := 1; s <= o.Sites; s++ {
		site := fmt.Sprintf("dc%d", s)
		for r := 1; r <= o.RacksPerSite; r++ {
			rack := fmt.Sprintf("r%02d", (s-1)*o.RacksPerSite+r)
			sw := "sw-" + site + "-" + rack
			var nbs []switchsim.Neighbor
			for n := 1; n <= o.ServersPerRack; n++ {
				host := fmt.Sprintf("srv-%s-%s-%02d", site, rack, n)
				port := fmt.Sprintf("Ethernet%d", n)
				inv.Servers = append(inv.Servers, inventory.Server{
					Hostname: host, Address: o.Host,
					Location: inventory.Location{Site: site, Row: "a", Rack: rack},
					Switch:   sw, SwitchPort: port, Lifecycle: inventory.InService,
					Labels: map[string]string{"service": "simulated"},
				})
				nbs = append(nbs, switchsim.Neighbor{Port: n, PortName: port, RemoteSysName: host})
			}
			inv.Switches = append(inv.Switches, inventory.Switch{
				Hostname: sw, Location: inventory.Location{Site: site, Row: "a", Rack: rack}, Role: "tor",
			})
			switches = append(switches, switchsim.SwitchOptions{Name: sw, Neighbors: nbs})
		}
	}
	bmcs, err := bmc.Serve(ctx, bmc.Options{
		Count: len(inv.Servers), Host: o.Host, BasePort: o.BMCBasePort, ControlAddr: o.ControlAddr,
		Logger: o.Logger.With("simulated", "bmc"),
		BMC:    bmc.HandlerOptions{Username: o.BMCUsername, Password: o.BMCPassword, Latency: o.BMCLatency, Drift: 0.02},
	})
	if err != nil {
		return nil, fmt.Errorf("simulated BMCs: %w", err)
	}
	for i, addr := range bmcs.Addresses() {
		inv.Servers[i].BMC = addr
	}
	sws, err := switchsim.Serve(ctx, switchsim.Options{
		Switches: switches, Recording: rec, Host: o.Host, BasePort: o.SwitchBasePort,
		TrapTarget: o.TrapTarget, Logger: o.Logger.With("simulated", "switch"),
	})
	if err != nil {
		bmcs.Close()
		return nil, fmt.Errorf("simulated switches: %w", err)
	}
	for i, s := range sws.Switches {
		inv.Switches[i].Address = s.Addr()
	}
	return &Fleet{Inventory: inv, BMCs: bmcs, Switches: sws}, nil
}

// Close stops the BMCs at once (the switches stop with Start's ctx).
func (f *Fleet) Close() { f.BMCs.Close() }

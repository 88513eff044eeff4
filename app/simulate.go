package app

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fleetwatch/fleetwatch/config"
	"github.com/fleetwatch/fleetwatch/inventory"
	"github.com/fleetwatch/fleetwatch/simulate/fleet"
)

// startSimulation runs the simulated fleet of cfg.Simulate until ctx ends.
// Its switches send their traps to the trap receiver, when one is enabled.
func startSimulation(ctx context.Context, cfg *config.Config, s *Server) (*fleet.Fleet, error) {
	sim := cfg.Simulate
	o := fleet.Options{
		Sites: sim.Sites, RacksPerSite: sim.RacksPerSite, ServersPerRack: sim.ServersPerRack,
		BMCUsername: sim.BMCUsername, BMCLatency: time.Duration(sim.BMCLatency),
		ControlAddr: sim.ControlAddress, Logger: s.logger.With("component", "simulate"),
	}
	if sim.BMCPasswordFile != "" {
		b, err := os.ReadFile(sim.BMCPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("simulate.bmc_password_file: %w", err)
		}
		o.BMCPassword = strings.TrimSpace(string(b))
	}
	if cfg.SNMPTraps != nil {
		o.TrapTarget = cfg.SNMPTraps.ListenAddress
	}
	f, err := fleet.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	s.logger.Info("simulated fleet started", "servers", len(f.Inventory.Servers), "switches", len(f.Inventory.Switches), "fault_control", f.BMCs.ControlURL())
	return f, nil
}

// mergeInventories puts the simulated fleet's entries after the file's.
func mergeInventories(file, sim *inventory.Inventory) *inventory.Inventory {
	switch {
	case sim == nil:
		return file
	case file == nil:
		return sim
	}
	return &inventory.Inventory{
		Servers:  append(append([]inventory.Server(nil), file.Servers...), sim.Servers...),
		Switches: append(append([]inventory.Switch(nil), file.Switches...), sim.Switches...),
	}
}

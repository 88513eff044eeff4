package redfish

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// maxCollectionPages bounds the pages read of a collection other than a log.
const maxCollectionPages = 20

// run reads the BMC: service root, then systems, chassis and managers side
// by side.
func (p *poll) run(ctx context.Context) error {
	root, err := p.serviceRoot(ctx)
	if err != nil {
		return fmt.Errorf("service root: %w", err)
	}
	if p.c.cfg.Expand == "auto" && root.ProtocolFeaturesSupported != nil {
		if eq := root.ProtocolFeaturesSupported.ExpandQuery; eq != nil {
			switch {
			case eq.NoLinks && eq.Levels:
				p.expand = "$expand=.($levels=1)"
			case eq.ExpandAll && eq.Levels:
				p.expand = "$expand=*($levels=1)"
			case eq.NoLinks:
				p.expand = "$expand=."
			}
		}
	}
	var sysErr, chErr error
	var g group
	if root.Systems.ID != "" {
		g.Go(func() { sysErr = p.systems(ctx, root.Systems.ID) })
	}
	if root.Chassis.ID != "" {
		g.Go(func() { chErr = p.chassis(ctx, root.Chassis.ID) })
	}
	if root.Managers.ID != "" && !p.c.cfg.skips("managers") {
		g.Go(func() {
			if err := p.managers(ctx, root.Managers.ID); err != nil {
				p.partial(root.Managers.ID, err)
			}
		})
	}
	g.Wait()
	if ctx.Err() != nil && (sysErr != nil || chErr != nil) {
		p.st.root = nil
		return fmt.Errorf("poll not finished: %w", ctx.Err())
	}
	switch {
	case root.Systems.ID == "" && root.Chassis.ID == "":
		return errors.New("the service root links neither Systems nor Chassis")
	case (sysErr != nil || root.Systems.ID == "") && (chErr != nil || root.Chassis.ID == ""):
		p.st.root = nil
		return errors.Join(sysErr, chErr)
	}
	if sysErr != nil {
		p.partial(root.Systems.ID, sysErr)
	}
	if chErr != nil {
		p.partial(root.Chassis.ID, chErr)
	}
	return nil
}

func (p *poll) serviceRoot(ctx context.Context) (*serviceRoot, error) {
	if p.st.root != nil && p.c.now().Sub(p.st.rootAt) < rootMaxAge {
		return p.st.root, nil
	}
	root, err := fetch[serviceRoot](ctx, p, "/redfish/v1/")
	if err != nil {
		return nil, err
	}
	if root.Systems.ID == "" && root.Chassis.ID == "" && root.ODataType == "" {
		return nil, errors.New("not a Redfish service root (no Systems, Chassis or @odata.type)")
	}
	p.cl.SetSessionsPath(root.Links.Sessions.ID)
	p.st.root, p.st.rootAt = root, p.c.now()
	return root, nil
}

// ---- systems ----

func (p *poll) systems(ctx context.Context, path string) error {
	systems, err := members[system](ctx, p, path, maxCollectionPages)
	if err != nil {
		return err
	}
	var g group
	for _, s := range systems {
		id := memberID(path, &s.common)
		p.addHealth("redfish_health", s.Status.Health, "type", "system", "resource", id)
		p.addHealth("redfish_health_rollup", s.Status.HealthRollup, "type", "system", "resource", id)
		p.add("redfish_system_info", 1, "system", id, "manufacturer", string(s.Manufacturer), "model", string(s.Model),
			"serial", string(s.SerialNumber), "sku", string(s.SKU), "bios_version", string(s.BiosVersion))
		if s.PowerState != "" {
			p.add("redfish_system_power_on", b2f(strings.EqualFold(string(s.PowerState), "On")), "system", id)
		}
		p.addNum("redfish_system_processors", s.ProcessorSummary.Count, "system", id)
		if g := s.MemorySummary.TotalSystemMemoryGiB; g.ok {
			p.add("redfish_system_memory_bytes", g.v*(1<<30), "system", id)
		}
		if s.Processors.ID != "" && !p.c.cfg.skips("processors") {
			g.Go(func() { p.processors(ctx, id, s.Processors.ID) })
		}
		if s.Memory.ID != "" && !p.c.cfg.skips("memory") {
			g.Go(func() { p.memory(ctx, id, s.Memory.ID) })
		}
		if !p.c.cfg.skips("storage") {
			if s.Storage.ID != "" {
				g.Go(func() { p.storage(ctx, id, s.Storage.ID) })
			}
			if s.SimpleStorage.ID != "" {
				g.Go(func() { p.simpleStorage(ctx, id, s.SimpleStorage.ID) })
			}
		}
		if s.EthernetInterfaces.ID != "" && !p.c.cfg.skips("ethernet_interfaces") {
			g.Go(func() { p.ethernet(ctx, id, s.EthernetInterfaces.ID) })
		}
		if s.LogServices.ID != "" && p.logsWanted() {
			g.Go(func() { p.logServices(ctx, s.LogServices.ID, "system", id) })
		}
	}
	g.Wait()
	return nil
}

func (p *poll) processors(ctx context.Context, sys, path string) {
	procs, err := members[processor](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	for _, c := range procs {
		if c.Status.absent() {
			continue
		}
		id := memberID(path, &c.common)
		p.addHealth("redfish_health", c.Status.Health, "type", "processor", "system", sys, "resource", id)
		p.addNum("redfish_processor_cores", c.TotalCores, "system", sys, "processor", id)
		p.addNum("redfish_processor_threads", c.TotalThreads, "system", sys, "processor", id)
	}
}

func (p *poll) memory(ctx context.Context, sys, path string) {
	dimms, err := members[memory](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	var g group
	for _, d := range dimms {
		if d.Status.absent() {
			continue
		}
		id := memberID(path, &d.common)
		p.addHealth("redfish_health", d.Status.Health, "type", "memory", "system", sys, "resource", id)
		if d.CapacityMiB.ok {
			p.add("redfish_memory_capacity_bytes", d.CapacityMiB.v*(1<<20), "system", sys, "dimm", id)
		}
		if d.Metrics.ID != "" && !p.c.cfg.skips("memory_metrics") {
			g.Go(func() {
				mm, err := fetch[memoryMetrics](ctx, p, d.Metrics.ID)
				if err != nil {
					p.partial(d.Metrics.ID, err)
					return
				}
				p.addNum("redfish_memory_correctable_errors_total", mm.LifeTime.CorrectableECCErrorCount, "system", sys, "dimm", id)
				p.addNum("redfish_memory_uncorrectable_errors_total", mm.LifeTime.UncorrectableECCErrorCount, "system", sys, "dimm", id)
			})
		}
	}
	g.Wait()
}

func (p *poll) storage(ctx context.Context, sys, path string) {
	stores, err := members[storage](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	var g group
	seen := map[string]bool{}
	for _, s := range stores {
		id := memberID(path, &s.common)
		p.addHealth("redfish_health", s.Status.Health, "type", "storage", "system", sys, "resource", id)
		p.addHealth("redfish_health_rollup", s.Status.HealthRollup, "type", "storage", "system", sys, "resource", id)
		for i, c := range s.StorageControllers {
			name := string(c.Name)
			if name == "" {
				name = fmt.Sprintf("%s/%d", id, i)
			}
			p.addHealth("redfish_health", c.Status.Health, "type", "storage_controller", "system", sys, "resource", name)
		}
		for _, l := range s.Drives {
			k := norm(l.ID)
			if l.ID == "" || seen[k] {
				continue
			}
			seen[k] = true
			g.Go(func() {
				d, err := fetch[drive](ctx, p, l.ID)
				if err != nil {
					p.partial(l.ID, err)
					return
				}
				if d.Status.absent() {
					return
				}
				did := string(d.ID)
				if did == "" {
					did = l.ID[strings.LastIndexByte(strings.TrimRight(l.ID, "/"), '/')+1:]
				}
				p.addHealth("redfish_health", d.Status.Health, "type", "drive", "system", sys, "resource", did)
				p.addNum("redfish_drive_capacity_bytes", d.CapacityBytes, "system", sys, "drive", did)
				if d.FailurePredicted.ok {
					p.add("redfish_drive_failure_predicted", b2f(d.FailurePredicted.v), "system", sys, "drive", did)
				}
				if d.PredictedMediaLifeLeftPercent.ok {
					p.add("redfish_drive_media_life_left_ratio", d.PredictedMediaLifeLeftPercent.v/100, "system", sys, "drive", did)
				}
			})
		}
	}
	g.Wait()
}

func (p *poll) simpleStorage(ctx context.Context, sys, path string) {
	stores, err := members[simpleStorage](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	for _, s := range stores {
		id := memberID(path, &s.common)
		p.addHealth("redfish_health", s.Status.Health, "type", "storage", "system", sys, "resource", id)
		p.addHealth("redfish_health_rollup", s.Status.HealthRollup, "type", "storage", "system", sys, "resource", id)
		for i, d := range s.Devices {
			if d.Status.absent() {
				continue
			}
			name := string(d.Name)
			if name == "" {
				name = fmt.Sprintf("%s/%d", id, i)
			}
			p.addHealth("redfish_health", d.Status.Health, "type", "drive", "system", sys, "resource", name)
			p.addNum("redfish_drive_capacity_bytes", d.CapacityBytes, "system", sys, "drive", name)
		}
	}
}

func (p *poll) ethernet(ctx context.Context, sys, path string) {
	ifs, err := members[ethernetInterface](ctx, p, path, maxCollectionPages)
	if err != nil {
		p.partial(path, err)
		return
	}
	for _, e := range ifs {
		if v, ok := linkUp(e.LinkStatus); ok {
			p.add("redfish_ethernet_link_up", v, "system", sys, "interface", memberID(path, &e.common))
		}
	}
}

// linkUp maps LinkStatus (LinkUp/LinkDown/NoLink, or Up/Down for ports).
func linkUp(s flexString) (float64, bool) {
	switch strings.ToLower(string(s)) {
	case "linkup", "up":
		return 1, true
	case "linkdown", "down", "nolink":
		return 0, true
	}
	return 0, false
}

// ---- managers ----

func (p *poll) managers(ctx context.Context, path string) error {
	mgrs, err := members[manager](ctx, p, path, maxCollectionPages)
	if err != nil {
		return err
	}
	var g group
	for _, m := range mgrs {
		id := memberID(path, &m.common)
		p.addHealth("redfish_health", m.Status.Health, "type", "manager", "resource", id)
		p.addHealth("redfish_health_rollup", m.Status.HealthRollup, "type", "manager", "resource", id)
		p.add("redfish_manager_info", 1, "manager", id, "firmware_version", string(m.FirmwareVersion), "type", string(m.ManagerType), "model", string(m.Model))
		if m.LogServices.ID != "" && p.logsWanted() {
			g.Go(func() { p.logServices(ctx, m.LogServices.ID, "manager", id) })
		}
	}
	g.Wait()
	return nil
}

func (p *poll) logsWanted() bool {
	return p.logs
}

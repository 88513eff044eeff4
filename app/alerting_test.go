package app

import (
	"context"
	"testing"

	"github.com/fleetwatch/fleetwatch/inventory"
)

// TestLifecycleOverridesStable: the alerter re-reads every alert's
// suppression when the inventory it is given changes, so the overlay
// returns the same inventory until the inventory or an override changes.
func TestLifecycleOverridesStable(t *testing.T) {
	l := &lifecycleOverrides{states: map[string]inventory.Lifecycle{}}
	inv := &inventory.Inventory{Servers: []inventory.Server{{Hostname: "h1", Lifecycle: inventory.InService}, {Hostname: "h2", Lifecycle: inventory.InService}}}
	if l.apply(nil) != l.apply(nil) {
		t.Error("no inventory: a new empty inventory on every call")
	}
	if l.apply(inv) != inv {
		t.Error("no overrides: not the inventory itself")
	}
	if err := l.SetLifecycle(context.Background(), "h2", inventory.Repair, "test"); err != nil {
		t.Fatal(err)
	}
	a, b := l.apply(inv), l.apply(inv)
	if a != b {
		t.Error("overrides, same inventory: a new copy on every call")
	}
	if a.Servers[1].Lifecycle != inventory.Repair || inv.Servers[1].Lifecycle != inventory.InService {
		t.Errorf("override not laid over a copy: %v / %v", a.Servers[1].Lifecycle, inv.Servers[1].Lifecycle)
	}
	if err := l.SetLifecycle(context.Background(), "h1", inventory.Maintenance, "test"); err != nil {
		t.Fatal(err)
	}
	if c := l.apply(inv); c == a || c.Servers[0].Lifecycle != inventory.Maintenance {
		t.Error("a new override did not give a new inventory")
	}
	inv2 := &inventory.Inventory{Servers: []inventory.Server{{Hostname: "h1"}}}
	if d := l.apply(inv2); d.Servers[0].Lifecycle != inventory.Maintenance || len(d.Servers) != 1 {
		t.Errorf("a reloaded inventory: %+v", d.Servers)
	}
}

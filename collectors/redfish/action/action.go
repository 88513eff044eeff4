package action

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
)

// Reset types the package sends.
const (
	GracefulRestart = "GracefulRestart"
	ForceRestart    = "ForceRestart"
	PowerCycle      = "PowerCycle"
	On              = "On"
	ForceOff        = "ForceOff"
)

// ErrNotAllowed: the system does not offer the reset type or boot target.
var ErrNotAllowed = errors.New("not allowed by the system")

type link struct {
	ID string `json:"@odata.id"`
}

type systemDoc struct {
	ODataID string `json:"@odata.id"`
	ETag    string `json:"@odata.etag"`
	Actions struct {
		Reset *struct {
			Target     string   `json:"target"`
			Allowable  []string `json:"ResetType@Redfish.AllowableValues"`
			ActionInfo string   `json:"@Redfish.ActionInfo"`
		} `json:"#ComputerSystem.Reset"`
	}
	Boot *struct {
		BootSourceOverrideTarget  string
		BootSourceOverrideEnabled string
		Allowable                 []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	}
}

type actionInfo struct {
	Parameters []struct {
		Name            string
		AllowableValues []string
	}
}

// AllowedResets returns the action target and the reset types the system
// at systemPath advertises (from ResetType@Redfish.AllowableValues or its
// ActionInfo). An empty list means the system does not say.
func AllowedResets(ctx context.Context, cl *client.Client, systemPath string) (string, []string, error) {
	var sys systemDoc
	if err := cl.GetJSON(ctx, systemPath, &sys); err != nil {
		return "", nil, fmt.Errorf("system %q: %w", systemPath, err)
	}
	r := sys.Actions.Reset
	if r == nil || r.Target == "" {
		return "", nil, fmt.Errorf("system %q: no #ComputerSystem.Reset action: %w", systemPath, ErrNotAllowed)
	}
	if len(r.Allowable) > 0 || r.ActionInfo == "" {
		return r.Target, r.Allowable, nil
	}
	var info actionInfo
	if err := cl.GetJSON(ctx, r.ActionInfo, &info); err != nil {
		return "", nil, fmt.Errorf("system %q: reset action info: %w", systemPath, err)
	}
	for _, p := range info.Parameters {
		if p.Name == "ResetType" {
			return r.Target, p.AllowableValues, nil
		}
	}
	return r.Target, nil, nil
}

// Reset sends ComputerSystem.Reset with resetType (one of the constants)
// to the system at systemPath, after checking that the system allows it.
// A system that lists no allowed values is sent the request as is.
func Reset(ctx context.Context, cl *client.Client, systemPath, resetType string) error {
	switch resetType {
	case GracefulRestart, ForceRestart, PowerCycle, On, ForceOff:
	default:
		return fmt.Errorf("system %q: reset type %q: want one of %s, %s, %s, %s, %s", systemPath, resetType, GracefulRestart, ForceRestart, PowerCycle, On, ForceOff)
	}
	target, allowed, err := AllowedResets(ctx, cl, systemPath)
	if err != nil {
		return err
	}
	if len(allowed) > 0 && !contains(allowed, resetType) {
		return fmt.Errorf("system %q: reset type %q (the system allows %s): %w", systemPath, resetType, strings.Join(allowed, ", "), ErrNotAllowed)
	}
	if _, err := cl.Post(ctx, target, map[string]string{"ResetType": resetType}); err != nil {
		return fmt.Errorf("system %q: reset %s: %w", systemPath, resetType, err)
	}
	return nil
}

// PXEBootOnce sets the system at systemPath to boot from the network at
// its next boot only (Boot.BootSourceOverrideTarget=Pxe,
// BootSourceOverrideEnabled=Once), sending the resource's ETag in If-Match
// when it has one. It does not reset the system: call Reset after it.
func PXEBootOnce(ctx context.Context, cl *client.Client, systemPath string) error {
	var sys systemDoc
	if err := cl.GetJSON(ctx, systemPath, &sys); err != nil {
		return fmt.Errorf("system %q: %w", systemPath, err)
	}
	if sys.Boot == nil {
		return fmt.Errorf("system %q: no Boot property: %w", systemPath, ErrNotAllowed)
	}
	if len(sys.Boot.Allowable) > 0 && !contains(sys.Boot.Allowable, "Pxe") {
		return fmt.Errorf("system %q: boot target Pxe (the system allows %s): %w", systemPath, strings.Join(sys.Boot.Allowable, ", "), ErrNotAllowed)
	}
	body := map[string]any{"Boot": map[string]string{"BootSourceOverrideTarget": "Pxe", "BootSourceOverrideEnabled": "Once"}}
	path := systemPath
	if sys.ODataID != "" {
		path = sys.ODataID
	}
	if _, err := cl.Patch(ctx, path, body, sys.ETag); err != nil {
		return fmt.Errorf("system %q: set PXE boot once: %w", systemPath, err)
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

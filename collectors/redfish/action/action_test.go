package action

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
	"github.com/fleetwatch/fleetwatch/simulate/bmc"
)

func serve(t *testing.T, mockup string) (*bmc.BMC, *client.Client) {
	t.Helper()
	m, err := bmc.LoadMockup(mockup)
	if err != nil {
		t.Fatal(err)
	}
	b := bmc.NewBMC(m, bmc.HandlerOptions{Index: -1, Username: "ops", Password: "pw"})
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	cl, err := client.New(client.Options{BaseURL: srv.URL, Username: "ops", Password: func() (string, error) { return "pw", nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Logout(context.Background()) })
	return b, cl
}

func TestReset(t *testing.T) {
	for _, tc := range []struct {
		name, mockup, system, reset string
		wantErr                     error
		wantPath                    string
	}{
		{"dmtf graceful restart", "dmtf-public-rackmount1", "/redfish/v1/Systems/437XR1138R2", GracefulRestart, nil, "/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"},
		{"hpe force off, lowercase trailing slash", "hpe-proliant-dl325-gen10plus-ilo5", "/redfish/v1/systems/1/", ForceOff, nil, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"},
		{"intel on", "intel-s2600bpb", "/redfish/v1/Systems/QSBP74100021", On, nil, "/redfish/v1/Systems/QSBP74100021/Actions/ComputerSystem.Reset"},
		{"intel has no power cycle", "intel-s2600bpb", "/redfish/v1/Systems/QSBP74100021", PowerCycle, ErrNotAllowed, ""},
		{"blade force restart", "dmtf-public-bladed", "/redfish/v1/Systems/529QB9451R6", ForceRestart, nil, "/redfish/v1/Systems/529QB9451R6/Actions/ComputerSystem.Reset"},
		{"unknown type", "dmtf-public-bladed", "/redfish/v1/Systems/529QB9451R6", "Nmi", nil, ""},
		{"missing system", "dmtf-public-bladed", "/redfish/v1/Systems/nope", On, client.ErrNotFound, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, cl := serve(t, tc.mockup)
			err := Reset(context.Background(), cl, tc.system, tc.reset)
			acts := b.Actions()
			if tc.wantPath == "" {
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if len(acts) != 0 {
					t.Fatalf("a refused reset was sent: %+v", acts)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(acts) != 1 || acts[0].Method != "POST" || acts[0].Path != tc.wantPath {
				t.Fatalf("actions = %+v, want one POST to %s", acts, tc.wantPath)
			}
			var body map[string]string
			if err := json.Unmarshal(acts[0].Body, &body); err != nil || len(body) != 1 || body["ResetType"] != tc.reset {
				t.Errorf("body = %s, want {\"ResetType\":%q}", acts[0].Body, tc.reset)
			}
		})
	}
}

func TestPXEBootOnce(t *testing.T) {
	for _, tc := range []struct{ mockup, system, path string }{
		{"dmtf-public-rackmount1", "/redfish/v1/Systems/437XR1138R2", "/redfish/v1/Systems/437XR1138R2"},
		{"hpe-proliant-dl325-gen10plus-ilo5", "/redfish/v1/Systems/1", "/redfish/v1/Systems/1"},
		{"intel-s2600bpb", "/redfish/v1/Systems/QSBP74100021", "/redfish/v1/Systems/QSBP74100021"},
	} {
		t.Run(tc.mockup, func(t *testing.T) {
			b, cl := serve(t, tc.mockup)
			if err := PXEBootOnce(context.Background(), cl, tc.system); err != nil {
				t.Fatal(err)
			}
			acts := b.Actions()
			if len(acts) != 1 || acts[0].Method != "PATCH" || acts[0].Path != tc.path {
				t.Fatalf("actions = %+v", acts)
			}
			var body struct{ Boot map[string]string }
			if err := json.Unmarshal(acts[0].Body, &body); err != nil {
				t.Fatal(err)
			}
			if len(body.Boot) != 2 || body.Boot["BootSourceOverrideTarget"] != "Pxe" || body.Boot["BootSourceOverrideEnabled"] != "Once" {
				t.Errorf("body = %s", acts[0].Body)
			}
			// The BMC now reports the override.
			var sys struct{ Boot map[string]any }
			if err := cl.GetJSON(context.Background(), tc.system, &sys); err != nil {
				t.Fatal(err)
			}
			if sys.Boot["BootSourceOverrideTarget"] != "Pxe" || sys.Boot["BootSourceOverrideEnabled"] != "Once" {
				t.Errorf("after PATCH the system reports %v", sys.Boot)
			}
		})
	}
}

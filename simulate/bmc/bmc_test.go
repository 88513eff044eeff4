package bmc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil && resp.StatusCode == 200 {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v: %.200s", url, err, b)
		}
	}
	return resp.StatusCode
}

func TestFleet(t *testing.T) {
	f, err := Serve(context.Background(), Options{Count: 4, ControlAddr: "127.0.0.1:0", BMC: HandlerOptions{Drift: 0.02}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	addrs := f.Addresses()
	if len(addrs) != 4 {
		t.Fatalf("addresses %v", addrs)
	}
	mockups := map[string]bool{}
	serials := map[string]bool{}
	for i, a := range addrs {
		mockups[f.BMC(i).Mockup()] = true
		var coll struct {
			Members []struct {
				ID string `json:"@odata.id"`
			}
		}
		if code := getJSON(t, a+"/redfish/v1/Systems", &coll); code != 200 || len(coll.Members) == 0 {
			t.Fatalf("%s: systems %d %v", a, code, coll)
		}
		var sys struct{ SerialNumber string }
		getJSON(t, a+coll.Members[0].ID, &sys)
		if !strings.HasSuffix(sys.SerialNumber, "-0000"+string(rune('0'+i))) || serials[sys.SerialNumber] {
			t.Errorf("BMC %d serial %q: want its own", i, sys.SerialNumber)
		}
		serials[sys.SerialNumber] = true
	}
	if len(mockups) != 4 {
		t.Errorf("mockups served: %v", mockups)
	}

	// Expand inlines members.
	var exp struct{ Members []map[string]any }
	getJSON(t, addrs[0]+"/redfish/v1/Chassis?$expand=.($levels=1)", &exp)
	if len(exp.Members) == 0 || exp.Members[0]["Id"] == nil {
		t.Errorf("expanded chassis: %v", exp.Members)
	}
	// Paging beyond the mockup is missing.
	if code := getJSON(t, addrs[0]+"/redfish/v1/Systems?$skiptoken=2", nil); code != 404 {
		t.Errorf("missing page: %d", code)
	}

	// Faults through the control endpoint.
	ctl := f.ControlURL()
	req, _ := http.NewRequest(http.MethodPost, ctl+"/faults?bmc=1&fault=http_500", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /faults: %v %v", resp, err)
	}
	if code := getJSON(t, addrs[1]+"/redfish/v1", nil); code != 500 {
		t.Errorf("http_500 fault: %d", code)
	}
	if code := getJSON(t, addrs[2]+"/redfish/v1", nil); code != 200 {
		t.Errorf("other BMC affected: %d", code)
	}
	req, _ = http.NewRequest(http.MethodPost, ctl+"/faults?bmc=1&fault=melt", nil)
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != 400 {
		t.Errorf("unknown fault accepted: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodDelete, ctl+"/faults?bmc=1", nil)
	_, _ = http.DefaultClient.Do(req)
	if code := getJSON(t, addrs[1]+"/redfish/v1", nil); code != 200 {
		t.Errorf("after clearing: %d", code)
	}
}

func TestScheduledFault(t *testing.T) {
	f, err := Serve(context.Background(), Options{Count: 2, Mockups: []string{"intel-s2600bpb"},
		Schedule: []ScheduledFault{{After: 10 * time.Millisecond, For: 200 * time.Millisecond, BMC: -1, Fault: Hang}}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(f.BMC(1).Faults()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(f.BMC(1).Faults()) != 1 {
		t.Fatal("scheduled fault never turned on")
	}
	for len(f.BMC(1).Faults()) != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(f.BMC(1).Faults()) != 0 {
		t.Fatal("scheduled fault never turned off")
	}
}

func TestMockupsLoad(t *testing.T) {
	for _, name := range MockupNames() {
		m, err := LoadMockup(name)
		if err != nil {
			t.Fatal(err)
		}
		// Served unchanged, every resource is the file's bytes.
		b := NewBMC(m, HandlerOptions{Index: -1})
		for k, r := range m.files {
			if got := b.renderResource(r, false); string(got) != string(r.raw) {
				t.Fatalf("%s %s: rendering changed the document", name, k)
			}
		}
	}
	if _, err := LoadMockup("nope"); err == nil {
		t.Error("unknown mockup loaded")
	}
}

func FuzzParseResource(f *testing.F) {
	f.Add([]byte(`{"Members":[{"@odata.id":"/a"},{"@odata.id":"/b"}],"ReadingCelsius":4,"SerialNumber":"x"}`))
	f.Add([]byte(`{"Thresholds":{"UpperCritical":{"Reading":4}},"Reading":3}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseResource(b)
		if err != nil {
			return
		}
		if string(r.render(nil, 0, len(r.raw), "", 0, 0, 0)) != string(b) {
			t.Fatalf("unchanged render differs")
		}
		_ = r.render(nil, 0, len(r.raw), "-1", 10, 0.02, 3)
	})
}

package redfish

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecodeResources decodes arbitrary bytes as every resource type the
// collector reads: decoding may fail but must not panic, and vendor oddities
// (numbers as strings, null, wrong types in leaves) must not fail a document.
func FuzzDecodeResources(f *testing.F) {
	root := "../../simulate/bmc/testdata/mockups"
	n := 0
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") || n >= 200 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && len(b) < 20000 {
			f.Add(b)
			n++
		}
		return nil
	})
	f.Add([]byte(`{"Temperatures":[{"Name":"x","ReadingCelsius":"41","UpperThresholdCritical":null}]}`))
	f.Add([]byte(`{"Members":[{"@odata.id":"/a"}],"Members@odata.nextLink":"/a?$skiptoken=1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []any{
			&serviceRoot{}, &collection{}, &system{}, &processor{}, &memory{}, &memoryMetrics{}, &storage{}, &drive{},
			&simpleStorage{}, &ethernetInterface{}, &chassis{}, &thermal{}, &power{}, &sensor{}, &thermalSubsystem{},
			&modernFan{}, &powerSubsystem{}, &modernPSU{}, &psuMetrics{}, &environmentMetrics{}, &networkAdapter{},
			&port{}, &manager{}, &logService{}, &logEntry{},
		} {
			_ = json.Unmarshal(b, v)
		}
		var e logEntry
		if json.Unmarshal(b, &e) == nil {
			_ = entryTime(&e)
		}
	})
}

// TestLenientDecoding: a thermal resource with vendor oddities still yields
// its readings.
func TestLenientDecoding(t *testing.T) {
	var th thermal
	doc := `{"Temperatures":[{"Name":"CPU","ReadingCelsius":"41.5","UpperThresholdCritical":null,"Status":{"Health":"ok","State":1}}],
	"fans":[{"name":"F1","reading":3000,"readingunits":"RPM","Oem":{"x":[1,2]}}]}`
	if err := json.Unmarshal([]byte(doc), &th); err != nil {
		t.Fatal(err)
	}
	if len(th.Temperatures) != 1 || th.Temperatures[0].ReadingCelsius != (num{41.5, true}) || th.Temperatures[0].UpperThresholdCritical.ok {
		t.Errorf("temperatures = %+v", th.Temperatures)
	}
	if v, ok := healthValue(th.Temperatures[0].Status.Health); !ok || v != 0 {
		t.Errorf("health %q = %v %v", th.Temperatures[0].Status.Health, v, ok)
	}
	if len(th.Fans) != 1 || th.Fans[0].Reading.v != 3000 || th.Fans[0].Name != "F1" {
		t.Errorf("lowercase keys: fans = %+v", th.Fans)
	}
}

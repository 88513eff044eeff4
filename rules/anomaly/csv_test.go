package anomaly

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDetectCSV(t *testing.T) {
	var in bytes.Buffer
	in.WriteString("timestamp,value\n")
	r := rand.New(rand.NewPCG(7, 8))
	t0 := time.Date(2014, 2, 14, 14, 30, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		v := 50 + r.NormFloat64()
		if i >= 300 && i < 320 {
			v += 30 // a 100-minute step up
		}
		fmt.Fprintf(&in, "%s,%.3f\n", t0.Add(time.Duration(i)*5*time.Minute).Format("2006-01-02 15:04:05"), v)
	}
	tests := []struct {
		name  string
		opts  []Option
		first string
		lines int
	}{
		{"one alert at the step", nil, "2014-02-15 15:30:00", 1},
		{"for delays the alert", []Option{WithFor(15 * time.Minute)}, "2014-02-15 15:45:00", 1},
		{"threshold above every score", []Option{WithThreshold(1000)}, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := DetectCSV(bytes.NewReader(in.Bytes()), &out, PresetGauge, tc.opts...); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != tc.lines {
				t.Fatalf("%d alert lines, want %d:\n%s", len(lines), tc.lines, out.String())
			}
			if tc.lines > 0 && !strings.HasPrefix(lines[0], tc.first+",") {
				t.Errorf("first alert %q, want at %s", lines[0], tc.first)
			}
		})
	}
}

func TestDetectCSVErrors(t *testing.T) {
	tests := []struct {
		name, csv, preset, want string
	}{
		{"bad value", "timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,abc\n", PresetGauge, `line 3: value "abc": not a number`},
		{"bad timestamp", "2014-02-14 14:30:00,1\nyesterday,2\n", PresetGauge, `line 2: timestamp "yesterday"`},
		{"three fields", "2014-02-14 14:30:00,1,2\n", PresetGauge, "line 1: want 2 fields"},
		{"time goes back", "2014-02-14 14:30:00,1\n2014-02-14 14:25:00,1\n", PresetGauge, "line 2: timestamp \"2014-02-14 14:25:00\" is before the previous row"},
		{"unknown preset", "", "disk", `unknown preset "disk"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := DetectCSV(strings.NewReader(tc.csv), &bytes.Buffer{}, tc.preset)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestDetectCSVTimestampFormats(t *testing.T) {
	for _, ts := range []string{"2014-02-14 14:30:00", "2014-02-14T14:30:00Z", "1392388200"} {
		got, err := parseTimestamp(ts)
		if err != nil || got != 1392388200000 {
			t.Errorf("%s: %d, %v; want 1392388200000", ts, got, err)
		}
	}
}

func FuzzDetectCSV(f *testing.F) {
	f.Add([]byte("timestamp,value\n2014-02-14 14:30:00,1\n2014-02-14 14:35:00,2\n"))
	f.Add([]byte("1392388200,1e300\n1392388500,-1e300\n1392388800,NaN\n"))
	f.Add([]byte("\"a\nb\",1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var out bytes.Buffer
		err := DetectCSV(bytes.NewReader(data), &out, PresetGauge, WithParams(func(p *Params) { p.MinHistory = 2 }))
		if err != nil && !strings.HasPrefix(err.Error(), "line ") {
			t.Fatalf("error without a line number: %v", err)
		}
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if l != "" && !strings.Contains(l, ",") {
				t.Fatalf("output line %q is not timestamp,score", l)
			}
		}
	})
}

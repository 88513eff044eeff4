package postmortem

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestFleetReport(t *testing.T) {
	src := scripted(t)
	ctx := context.Background()
	fs, err := FleetReport(ctx, src, at("00:00:00"), at("00:00:00").Add(24*time.Hour), FleetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("counts", func(t *testing.T) {
		if fs.Incidents != 1 || fs.Pages != 1 {
			t.Errorf("incidents %d, pages %d; want 1 and 1 (acknowledge and resolve messages are not pages)", fs.Incidents, fs.Pages)
		}
	})
	t.Run("noisiest alert", func(t *testing.T) {
		if len(fs.NoisiestAlerts) != 2 {
			t.Fatalf("noisiest = %+v", fs.NoisiestAlerts)
		}
		n := fs.NoisiestAlerts[0]
		if n.Alert != "NodeNetworkFlapping" || n.Firings != 4 || n.Devices != 1 || n.Incidents != 1 || n.Acknowledged != 1 || n.MedianFiringSeconds != 90 {
			t.Errorf("noisiest = %+v, want NodeNetworkFlapping 4 firings on 1 device, acknowledged, median 90 s", n)
		}
	})
	t.Run("flapping rule", func(t *testing.T) {
		if len(fs.FlappingRules) != 1 || fs.FlappingRules[0].Alert != "NodeNetworkFlapping" || fs.FlappingRules[0].Worst != 4 {
			t.Errorf("flapping = %+v", fs.FlappingRules)
		}
	})
	t.Run("pages per shift", func(t *testing.T) {
		// Shifts of 12 h from 08:00 UTC: 20:00 the day before, 08:00, 20:00.
		if len(fs.PagesPerShift) != 3 {
			t.Fatalf("shifts = %+v", fs.PagesPerShift)
		}
		s := fs.PagesPerShift[1]
		if !s.Start.Equal(at("08:00:00")) || s.Pages != 1 || s.Incidents != 1 || fs.PagesPerShift[0].Pages != 0 {
			t.Errorf("shift = %+v, want the page in the 08:00 shift", s)
		}
	})
	t.Run("trend per route", func(t *testing.T) {
		if len(fs.TrendByRoute) != 1 || fs.TrendByRoute[0].Key != "/storage" {
			t.Fatalf("trend = %+v", fs.TrendByRoute)
		}
		p := fs.TrendByRoute[0].Points[0]
		if p.Incidents != 1 || p.MTTASeconds != 280 || p.MTTRSeconds != 960 {
			t.Errorf("trend point = %+v, want MTTA 280 s, MTTR 960 s", p)
		}
		if len(fs.TrendByRule) != 1 || fs.TrendByRule[0].Key != "NodeNetworkDown" {
			t.Errorf("trend by rule = %+v, want the triggering rule", fs.TrendByRule)
		}
	})
	t.Run("remediation rates", func(t *testing.T) {
		if len(fs.Remediation) != 2 {
			t.Fatalf("remediation = %+v", fs.Remediation)
		}
		for _, r := range fs.Remediation {
			switch r.Action {
			case "bounce-port":
				if r.Succeeded != 1 || r.SuccessRate != 1 {
					t.Errorf("bounce-port = %+v", r)
				}
			case "reboot":
				if r.Skipped != 1 || r.SkippedBy["cooldown"] != 1 || r.SuccessRate != 0 {
					t.Errorf("reboot = %+v, want one skip by the cooldown guard", r)
				}
			default:
				t.Errorf("unexpected action %+v", r)
			}
		}
	})
	for _, f := range []string{FormatMarkdown, FormatHTML, FormatJSON} {
		t.Run("golden "+f, func(t *testing.T) {
			var buf bytes.Buffer
			if err := RenderFleet(&buf, fs, f); err != nil {
				t.Fatal(err)
			}
			golden(t, "fleet."+f, buf.Bytes())
		})
	}
}

func TestFleetReportBadPeriod(t *testing.T) {
	src := Sources{Store: openStore(t)}
	cases := []struct {
		name     string
		from, to time.Time
		o        FleetOptions
	}{
		{"to before from", at("12:00:00"), at("11:00:00"), FleetOptions{}},
		{"too many shifts", at("00:00:00"), at("00:00:00").Add(365 * 24 * time.Hour), FleetOptions{ShiftLength: time.Hour}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := FleetReport(context.Background(), src, c.from, c.to, c.o); !errors.Is(err, ErrBadSelection) {
				t.Errorf("error %v, want ErrBadSelection", err)
			}
		})
	}
}

func TestShiftStart(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	cases := []struct {
		t    time.Time
		o    FleetOptions
		want time.Time
	}{
		{at("07:59:59"), FleetOptions{}, at("20:00:00").Add(-24 * time.Hour)},
		{at("08:00:00"), FleetOptions{}, at("08:00:00")},
		{at("23:00:00"), FleetOptions{}, at("20:00:00")},
		{at("05:00:00"), FleetOptions{ShiftLength: 8 * time.Hour, ShiftStart: 6 * time.Hour}, at("22:00:00").Add(-24 * time.Hour)},
		// 08:00 in Berlin (summer) is 06:00 UTC.
		{at("06:30:00"), FleetOptions{Location: berlin}, at("06:00:00")},
	}
	for _, c := range cases {
		t.Run(c.t.Format(time.RFC3339), func(t *testing.T) {
			if got := shiftStart(c.t, c.o.withDefaults()); !got.Equal(c.want) {
				t.Errorf("shiftStart = %v, want %v", got.UTC(), c.want)
			}
		})
	}
}

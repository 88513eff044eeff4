package dashboards

import (
	"bufio"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// synthFleet is a synthetic datacenter exposed in the exposition format,
// one HTTP target per rack, with the metric names fleetwatch's collectors
// write (Redfish, node_exporter, IF-MIB, LLDP, probes, ALERTS,
// anomaly_score), so the dashboards' queries run over a fleet-sized TSDB.
//
// History: each scraper (told apart by its User-Agent) is first served
// samples stamped from start onward, one step per scrape, so a fresh TSDB
// holds a full dashboard range after a few hundred fast scrapes; once
// caught up, samples carry the current time.
type synthFleet struct {
	sites, racksPerSite, serversPerRack, portsPerSwitch int
	start                                               time.Time
	step                                                time.Duration

	mu    sync.Mutex
	scrap map[string]int64 // scrapes per (scraper, rack)
}

func (f *synthFleet) racks() int { return f.sites * f.racksPerSite }

// seriesPerRack is the number of series one rack's target exposes.
func (f *synthFleet) seriesPerRack() int {
	var c countWriter
	f.writeRack(&c, 0, 0, 0)
	return c.lines
}

type countWriter struct{ lines int }

func (c *countWriter) WriteString(s string) (int, error) {
	c.lines += strings.Count(s, "\n")
	return len(s), nil
}

type stringWriter interface {
	WriteString(string) (int, error)
}

// handler serves each rack at /rack/<site>/<rack> (dc1/r01, …).
func (f *synthFleet) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var site, rk int
		if _, err := fmt.Sscanf(r.URL.Path, "/rack/dc%d/r%d", &site, &rk); err != nil || site < 1 || site > f.sites || rk < 1 || rk > f.racksPerSite {
			http.NotFound(w, r)
			return
		}
		rack := (site-1)*f.racksPerSite + rk - 1
		key := r.Header.Get("User-Agent") + "|" + strconv.Itoa(rack)
		f.mu.Lock()
		n := f.scrap[key]
		f.scrap[key] = n + 1
		f.mu.Unlock()
		ts := f.start.Add(time.Duration(n) * f.step)
		now := time.Now()
		if ts.After(now) {
			ts = now
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		bw := bufio.NewWriterSize(w, 256<<10)
		f.writeRack(bw, rack, n, ts.UnixMilli())
		_ = bw.Flush()
	})
}

// caughtUp reports whether every rack's scrapes by scrapers whose
// User-Agent contains ua have reached the present.
func (f *synthFleet) caughtUp(ua string) bool {
	need := int64(time.Since(f.start) / f.step)
	f.mu.Lock()
	defer f.mu.Unlock()
	seen := 0
	for k, n := range f.scrap {
		if strings.Contains(k, ua) {
			seen++
			if n < need {
				return false
			}
		}
	}
	return seen == f.racks()
}

// writeRack writes one rack's series at scrape n, time ts (ms; 0: none).
func (f *synthFleet) writeRack(w stringWriter, rack int, n int64, ts int64) {
	site := fmt.Sprintf("dc%d", rack/f.racksPerSite+1)
	rk := fmt.Sprintf("r%02d", rack%f.racksPerSite+1)
	sw := "sw-" + site + "-" + rk
	suffix := "\n"
	if ts != 0 {
		suffix = " " + strconv.FormatInt(ts, 10) + "\n"
	}
	put := func(name, labels string, v float64) {
		w.WriteString(name)
		w.WriteString("{")
		w.WriteString(labels)
		w.WriteString("} ")
		w.WriteString(strconv.FormatFloat(v, 'g', 6, 64))
		w.WriteString(suffix)
	}
	wave := func(seed int, amp float64) float64 {
		return amp * math.Sin(float64(n)/7+float64(seed))
	}
	for s := 1; s <= f.serversPerRack; s++ {
		srv := fmt.Sprintf("srv-%s-%s-%02d", site, rk, s)
		base := `server="` + srv + `",instance="` + srv + `"`
		// Redfish.
		put("redfish_system_info", base+`,system="SYS`+srv+`",manufacturer="Contoso",model="R740",serial="S`+srv+`",sku="",bios_version="2.1"`, 1)
		for t := 0; t < 10; t++ {
			l := base + `,chassis="1",sensor="Temp ` + strconv.Itoa(t) + `",physical_context="CPU"`
			put("redfish_temperature_celsius", l, 40+float64(t)+wave(s+t, 3))
			put("redfish_temperature_upper_critical_celsius", l, 90)
		}
		for fan := 0; fan < 6; fan++ {
			l := base + `,chassis="1",fan="Fan ` + strconv.Itoa(fan) + `"`
			put("redfish_fan_rpm", l, 9000+wave(fan, 400))
			put("redfish_fan_health", l, 0)
		}
		for p := 0; p < 2; p++ {
			l := base + `,chassis="1",psu="PSU ` + strconv.Itoa(p) + `"`
			put("redfish_psu_health", l, 0)
			put("redfish_psu_input_watts", l, 210+wave(p, 20))
			put("redfish_psu_output_watts", l, 190+wave(p, 20))
		}
		put("redfish_power_consumed_watts", base+`,chassis="1",control="0"`, 400+wave(s, 40))
		put("redfish_power_capacity_watts", base+`,chassis="1",control="0"`, 1100)
		for i, res := range []string{"system/1", "chassis/1", "manager/1", "processor/CPU1", "processor/CPU2", "memory/DIMM1", "drive/Disk0", "drive/Disk1"} {
			typ, name, _ := strings.Cut(res, "/")
			v := 0.0
			if (s+i+rack)%97 == 0 {
				v = 1
			}
			put("redfish_health", base+`,type="`+typ+`",resource="`+name+`"`, v)
		}
		for d := 0; d < 2; d++ {
			put("redfish_memory_uncorrectable_errors_total", base+`,system="1",dimm="DIMM`+strconv.Itoa(d)+`"`, 0)
		}
		put("scrape_duration_seconds", base+`,job="redfish"`, 0.4+wave(s, 0.1))
		// node_exporter, job node.
		nb := `job="node",instance="` + srv + `"`
		put("node_uname_info", nb+`,nodename="`+srv+`",release="6.1.0",sysname="Linux",machine="x86_64",domainname="(none)",version="#1"`, 1)
		for cpu := 0; cpu < 2; cpu++ {
			for _, mode := range []string{"idle", "user", "system", "iowait"} {
				mul := map[string]float64{"idle": 0.8, "user": 0.12, "system": 0.06, "iowait": 0.02}[mode]
				put("node_cpu_seconds_total", nb+`,cpu="`+strconv.Itoa(cpu)+`",mode="`+mode+`"`, float64(n)*30*mul)
			}
		}
		put("node_load1", nb, 1+wave(s, 0.5))
		put("node_load5", nb, 1)
		put("node_load15", nb, 1)
		put("node_time_seconds", nb, float64(ts)/1000)
		put("node_boot_time_seconds", nb, 1.7e9)
		put("node_memory_MemTotal_bytes", nb, 256e9)
		put("node_memory_MemAvailable_bytes", nb, 128e9+wave(s, 1e9))
		fs := nb + `,device="/dev/sda1",fstype="ext4",mountpoint="/"`
		put("node_filesystem_size_bytes", fs, 1e12)
		put("node_filesystem_avail_bytes", fs, 6e11)
		dev := nb + `,device="sda"`
		put("node_disk_read_bytes_total", dev, float64(n)*3e6)
		put("node_disk_written_bytes_total", dev, float64(n)*5e6)
		net := nb + `,device="eth0"`
		for _, m := range []string{"receive_bytes", "transmit_bytes", "receive_errs", "transmit_errs", "receive_drop", "transmit_drop"} {
			put("node_network_"+m+"_total", net, float64(n)*1e6)
		}
	}
	// The rack's switch: IF-MIB per port, LLDP, sensors, poll time.
	for p := 1; p <= f.portsPerSwitch; p++ {
		l := `instance="` + sw + `",switch="` + sw + `",ifIndex="` + strconv.Itoa(p) + `",ifName="Ethernet` + strconv.Itoa(p) + `",ifDescr="Ethernet` + strconv.Itoa(p) + `"`
		put("ifHCInOctets", l, float64(n)*float64(p)*1e8)
		put("ifHCOutOctets", l, float64(n)*float64(p)*8e7)
		for _, m := range []string{"ifInErrors", "ifOutErrors", "ifInDiscards", "ifOutDiscards"} {
			put(m, l, float64(n%3))
		}
		put("ifOperStatus", l, 1)
		put("ifAdminStatus", l, 1)
		put("ifHighSpeed", l, 25000)
		if p <= f.serversPerRack {
			put("snmp_lldp_neighbor_info", `instance="`+sw+`",switch="`+sw+`",lldpLocalPortNum="`+strconv.Itoa(p)+`",lldpLocalPortId="Ethernet`+strconv.Itoa(p)+`",lldpRemSysName="`+fmt.Sprintf("srv-%s-%s-%02d", site, rk, p)+`",lldpRemPortId="eth0"`, 1)
		}
	}
	for t := 0; t < 5; t++ {
		put("entPhySensorValue", `instance="`+sw+`",switch="`+sw+`",entPhySensorType="celsius",entPhysicalIndex="`+strconv.Itoa(t)+`",entPhysicalName="Temp `+strconv.Itoa(t)+`"`, 30+wave(t, 2))
	}
	put("snmp_scrape_duration_seconds", `instance="`+sw+`",switch="`+sw+`"`, 0.2)
	// Probes from this rack's vantage point, alerts and anomaly scores.
	for tgt := 0; tgt < 4; tgt++ {
		l := `job="icmp",instance="10.` + strconv.Itoa(rack) + `.0.` + strconv.Itoa(tgt) + `"`
		put("probe_success", l, 1)
		put("probe_duration_seconds", l, 0.001+wave(tgt, 0.0002))
		put("probe_icmp_duration_seconds", l+`,phase="rtt"`, 0.0009)
		put("probe_packets_sent_total", l, float64(n)*2)
		put("probe_packets_received_total", l, float64(n)*2)
		cum := 0.0
		for i, le := range []string{"0.0001", "0.0002", "0.0004", "0.0008", "0.0016", "0.0032", "0.0064", "+Inf"} {
			cum += float64(n) * float64(i+1)
			put("probe_rtt_seconds_bucket", l+`,le="`+le+`"`, cum)
		}
		put("probe_rtt_seconds_count", l, cum)
		put("probe_rtt_seconds_sum", l, cum*0.001)
		put("anomaly_score", `alertname="ProbeRTTAnomaly",`+l, math.Abs(wave(tgt, 2)))
	}
	put("ALERTS", `alertname="FanFailed",alertstate="firing",severity="critical",server="`+fmt.Sprintf("srv-%s-%s-01", site, rk)+`"`, 1)
	put("ALERTS", `alertname="BMCHealthWarning",alertstate="pending",severity="warning",server="`+fmt.Sprintf("srv-%s-%s-02", site, rk)+`"`, 1)
}

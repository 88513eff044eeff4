package snmp

import (
	"context"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// recordings are the snmpsim recordings under testdata/recordings; each is
// served by snmpsim under its name as the community.
var recordings = []string{"arista-dcs-7150s-52-cl", "cisco-c3750", "linux-full-walk", "linux-unknown-003"}

// memAppender keeps what a collection appended.
type memAppender struct {
	mu      sync.Mutex
	samples map[string]float64
	order   []string
	meta    map[string]metadata.Metadata
	dups    []string
}

func newMemAppender() *memAppender {
	return &memAppender{samples: map[string]float64{}, meta: map[string]metadata.Metadata{}}
}

func (a *memAppender) Append(ls labels.Labels, _ int64, v float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := ls.String()
	if _, dup := a.samples[k]; dup {
		a.dups = append(a.dups, k)
	}
	a.samples[k] = v
	a.order = append(a.order, k)
	return nil
}

func (a *memAppender) SetMetadata(family string, md metadata.Metadata) {
	a.mu.Lock()
	a.meta[family] = md
	a.mu.Unlock()
}

// text renders the samples sorted, one per line, leaving out families for
// which skip returns true.
func (a *memAppender) text(skip func(name string) bool) string {
	keys := make([]string, 0, len(a.samples))
	for k := range a.samples {
		name := metricName(k)
		if skip != nil && skip(name) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", k, formatValue(a.samples[k]))
	}
	return b.String()
}

func formatValue(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func metricName(key string) string {
	const p = `{__name__="`
	if !strings.HasPrefix(key, p) {
		return ""
	}
	rest := key[len(p):]
	return rest[:strings.IndexByte(rest, '"')]
}

func isSelfMetric(name string) bool { return strings.HasPrefix(name, "snmp_scrape_") }

// checkGolden compares got with testdata/golden/<name>, rewriting it with
// -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file %s: %v (run with -update to create it)", path, err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file:\n%s", path, diffLines(string(want), got))
	}
}

// diffLines lists lines only in want (-) or only in got (+), at most 20.
func diffLines(want, got string) string {
	w := map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	g := map[string]bool{}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var out []string
	for l := range w {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for l := range g {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("… and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// waitSNMP polls addr with a v2c GET of sysUpTime until it answers.
func waitSNMP(t testing.TB, addr, community string, timeout time.Duration) {
	t.Helper()
	host, port, _ := splitHostPort(addr)
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		g := &gosnmp.GoSNMP{Target: host, Port: port, Community: community, Version: gosnmp.Version2c,
			Timeout: 300 * time.Millisecond, Retries: 0, Context: context.Background()}
		if err := g.Connect(); err != nil {
			last = err
		} else {
			_, err := g.Get([]string{".1.3.6.1.2.1.1.3.0"})
			g.Conn.Close()
			if err == nil {
				return
			}
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("SNMP agent %s not answering after %v: %v", addr, timeout, last)
}

// startSnmpsim runs snmpsimd serving testdata/recordings and returns its
// address. The index cache is kept between runs in the system temp dir.
func startSnmpsim(t testing.TB) string {
	t.Helper()
	testpeer.Need(t, "snmpsimd")
	data, err := filepath.Abs(filepath.Join("testdata", "recordings"))
	if err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(os.TempDir(), "fleetwatch-snmpsim-cache")
	if err := os.MkdirAll(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(cache, 0o777)
	addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
	args := []string{"--data-dir=" + data, "--cache-dir=" + cache, "--agent-udpv4-endpoint=" + addr, "--logging-method=null"}
	if os.Geteuid() == 0 {
		args = append(args, "--process-user=nobody", "--process-group=nogroup")
	}
	testpeer.Start(t, "snmpsimd", args...)
	waitSNMP(t, addr, "linux-full-walk", 60*time.Second)
	return addr
}

// startSnmpd runs net-snmp's snmpd on a free loopback port with the given
// extra configuration lines, returning its address.
func startSnmpd(t testing.TB, extraConf ...string) string {
	t.Helper()
	bin := "snmpd"
	if _, err := exec.LookPath(bin); err != nil {
		if _, err := os.Stat("/usr/sbin/snmpd"); err == nil {
			bin = "/usr/sbin/snmpd"
		}
	}
	testpeer.Need(t, bin)
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(freeUDPPort(t))
	conf := []string{
		"agentAddress udp:" + addr,
		"rocommunity public 127.0.0.1",
		"sysLocation lab-rack-1",
		"sysContact ops@example.invalid",
		"sysServices 72",
	}
	conf = append(conf, extraConf...)
	path := filepath.Join(dir, "snmpd.conf")
	if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-f", "-C", "-c", path, "-Lo", "-p", filepath.Join(dir, "snmpd.pid"),
		"--persistentDir=" + dir}
	if os.Geteuid() == 0 {
		_ = os.Chmod(dir, 0o777)
		args = append(args, "-u", "nobody", "-g", "nogroup")
	}
	testpeer.Start(t, bin, args...)
	waitSNMP(t, addr, "public", 15*time.Second)
	return addr
}

// collect runs one collection of target against c.
func collect(t testing.TB, c *Collector, addr string, params map[string]string) (*memAppender, error) {
	t.Helper()
	app := newMemAppender()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tg := collectors.Target{Job: "snmp", Address: addr, Labels: labels.FromStrings("instance", addr), Params: params}
	err := c.Collect(ctx, tg, app)
	return app, err
}

// newTestCollector builds a Collector from cfg changes applied to the
// defaults.
func newTestCollector(t testing.TB, change func(*Config)) *Collector {
	t.Helper()
	cfg := DefaultConfig()
	if change != nil {
		change(&cfg)
	}
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// communityAuth adds an auth per recording, named after it, whose community
// selects that recording in snmpsim.
func communityAuths() Auths {
	out := Auths{}
	for _, r := range recordings {
		a := DefaultAuth()
		a.Community = r
		out[r] = &a
	}
	return out
}

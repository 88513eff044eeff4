package traps

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fleetwatch/fleetwatch/collectors/snmp"
	"github.com/fleetwatch/fleetwatch/events"
	"github.com/fleetwatch/fleetwatch/internal/testpeer"
)

// collector is an events.Sink that keeps what it gets.
type collector struct {
	mu  sync.Mutex
	evs []events.Event
	n   atomic.Int64
	got chan struct{}
}

func newCollector() *collector { return &collector{got: make(chan struct{}, 1<<20)} }

func (c *collector) HandleEvent(_ context.Context, e events.Event) error {
	c.mu.Lock()
	c.evs = append(c.evs, e)
	c.mu.Unlock()
	c.n.Add(1)
	c.got <- struct{}{}
	return nil
}

func (c *collector) wait(t testing.TB) events.Event {
	t.Helper()
	select {
	case <-c.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.evs[len(c.evs)-1]
}

var inventory = LabelsFunc(func(a netip.Addr) map[string]string {
	if a == netip.MustParseAddr("127.0.0.1") {
		return map[string]string{"instance": "tor-a1", "switch": "tor-a1", "site": "dc1", "rack": "r1"}
	}
	return nil
})

// start runs a receiver on a free loopback port.
func start(t testing.TB, cfg Config, sink events.Sink, reg prometheus.Registerer) *Receiver {
	t.Helper()
	if cfg.ListenAddress == DefaultListenAddress || cfg.ListenAddress == "" {
		cfg.ListenAddress = "127.0.0.1:0"
	}
	r, err := New(cfg, sink, inventory, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for r.Addr() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	return r
}

func netsnmp(t testing.TB, tool string, args ...string) {
	t.Helper()
	path := testpeer.Need(t, tool)
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "MIBS=", "MIBDIRS=/nonexistent", "SNMPCONFPATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
}

// TestNetSNMPTraps sends real traps with net-snmp's snmptrap and
// snmpinform and checks the events: kind, severity and the device's labels.
func TestNetSNMPTraps(t *testing.T) {
	dir := t.TempDir()
	for name, secret := range map[string]string{"auth": "authpass123", "priv": "privpass123"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	v3 := snmp.DefaultAuth()
	v3.Version, v3.Username, v3.SecurityLevel = 3, "trapuser", "authPriv"
	v3.AuthProtocol, v3.PasswordFile = "SHA256", filepath.Join(dir, "auth")
	v3.PrivProtocol, v3.PrivPasswordFile = "AES", filepath.Join(dir, "priv")
	sink := newCollector()
	reg := prometheus.NewRegistry()
	r := start(t, Config{Communities: []string{"public"}, V3Users: []string{"traps-v3"}, Auths: snmp.Auths{"traps-v3": &v3},
		Traps: map[string]TrapRule{"1.3.6.1.4.1.9999.0.1": {Name: "fanFailure", Severity: events.Critical}}}, sink, reg)
	addr := r.Addr().String()
	ifVars := []string{"1.3.6.1.2.1.2.2.1.1.3", "i", "3", "1.3.6.1.2.1.31.1.1.1.1.3", "s", "Ethernet3"}
	for _, tc := range []struct {
		name     string
		tool     string
		args     []string
		kind     string
		severity events.Severity
		ifName   string
	}{
		{"v2c linkDown", "snmptrap", append([]string{"-v2c", "-c", "public", addr, "", "1.3.6.1.6.3.1.1.5.3"}, ifVars...), "linkDown", events.Warning, "Ethernet3"},
		{"v2c inform linkUp", "snmpinform", append([]string{"-v2c", "-c", "public", "-t", "2", "-r", "0", addr, "", "1.3.6.1.6.3.1.1.5.4"}, ifVars...), "linkUp", events.Info, "Ethernet3"},
		{"v1 coldStart", "snmptrap", []string{"-v1", "-c", "public", addr, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "0", "0", ""}, "coldStart", events.Warning, ""},
		{"v1 warmStart", "snmptrap", []string{"-v1", "-c", "public", addr, "1.3.6.1.4.1.8072.3.2.10", "127.0.0.1", "1", "0", ""}, "warmStart", events.Info, ""},
		{"v2c authenticationFailure", "snmptrap", []string{"-v2c", "-c", "public", addr, "", "1.3.6.1.6.3.1.1.5.5"}, "authenticationFailure", events.Warning, ""},
		{"v2c configured OID", "snmptrap", []string{"-v2c", "-c", "public", addr, "", "1.3.6.1.4.1.9999.0.1"}, "fanFailure", events.Critical, ""},
		{"v3 authPriv", "snmptrap", append([]string{"-v3", "-e", "0x80001f8880c0ffee0102030405", "-u", "trapuser", "-l", "authPriv",
			"-a", "SHA-256", "-A", "authpass123", "-x", "AES", "-X", "privpass123", addr, "", "1.3.6.1.6.3.1.1.5.3"}, ifVars...), "linkDown", events.Warning, "Ethernet3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			netsnmp(t, tc.tool, tc.args...)
			e := sink.wait(t)
			if e.Kind != tc.kind || e.Severity != tc.severity || e.Source != events.SourceSNMPTrap {
				t.Errorf("event %s/%s/%s, want %s/%s/%s", e.Source, e.Kind, e.Severity, events.SourceSNMPTrap, tc.kind, tc.severity)
			}
			for k, v := range map[string]string{"instance": "tor-a1", "switch": "tor-a1", "site": "dc1", "rack": "r1"} {
				if e.Labels[k] != v {
					t.Errorf("label %s=%q, want %q (labels %v)", k, e.Labels[k], v, e.Labels)
				}
			}
			if tc.ifName != "" && (e.Labels["ifName"] != tc.ifName || e.Labels["ifIndex"] != "3") {
				t.Errorf("interface labels %v, want ifIndex 3 ifName %s", e.Labels, tc.ifName)
			}
			for k, v := range e.Attributes {
				if v == "public" || v == "authpass123" || v == "privpass123" {
					t.Errorf("attribute %s holds a secret", k)
				}
			}
		})
	}
	if got := testutil.ToFloat64(r.metrics.received.WithLabelValues("linkDown")); got != 2 {
		t.Errorf("fleetwatch_snmp_traps_received_total{trap=linkDown} = %v, want 2", got)
	}
	t.Run("wrong community dropped", func(t *testing.T) {
		netsnmp(t, "snmptrap", "-v2c", "-c", "private", addr, "", "1.3.6.1.6.3.1.1.5.3")
		waitCounter(t, r.metrics.dropped.WithLabelValues(DropCommunity), 1)
	})
	t.Run("wrong v3 password dropped", func(t *testing.T) {
		netsnmp(t, "snmptrap", "-v3", "-e", "0x80001f8880c0ffee0102030405", "-u", "trapuser", "-l", "authPriv",
			"-a", "SHA-256", "-A", "wrongpass123", "-x", "AES", "-X", "privpass123", addr, "", "1.3.6.1.6.3.1.1.5.3")
		waitCounter(t, r.metrics.dropped.WithLabelValues(DropAuth), 1)
	})
}

func waitCounter(t *testing.T, c prometheus.Counter, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if testutil.ToFloat64(c) >= want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("counter %v, want %v", testutil.ToFloat64(c), want)
}

// TestMalformedPackets sends garbage and checks the receiver counts it and
// keeps working.
func TestMalformedPackets(t *testing.T) {
	sink := newCollector()
	r := start(t, Config{}, sink, nil)
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	good := v2Trap(t, "public", OIDLinkDown, 7)
	for _, p := range [][]byte{{}, {0x30}, {0x30, 0x82, 0xff, 0xff}, []byte("hello"), good[:len(good)/2], good[:10]} {
		_, _ = conn.Write(p)
	}
	_, _ = conn.Write(good)
	e := sink.wait(t)
	if e.Kind != "linkDown" || e.Labels["ifIndex"] != "7" {
		t.Errorf("after garbage: event %+v", e)
	}
	if got := testutil.ToFloat64(r.metrics.dropped.WithLabelValues(DropMalformed)); got < 5 {
		t.Errorf("malformed drops %v, want at least 5", got)
	}
}

// v2Trap encodes a v2c trap with ifIndex.
func v2Trap(t testing.TB, community, oid string, ifIndex int) []byte {
	t.Helper()
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: community, PDUType: gosnmp.SNMPv2Trap, RequestID: 1,
		Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(100)},
			{Name: "." + oidSnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: "." + oid},
			{Name: ".1.3.6.1.2.1.2.2.1.1." + strconv.Itoa(ifIndex), Type: gosnmp.Integer, Value: ifIndex},
		}}
	b, err := p.MarshalMsg()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func FuzzDecodeTrap(f *testing.F) {
	p := &gosnmp.SnmpPacket{Version: gosnmp.Version2c, Community: "public", PDUType: gosnmp.SNMPv2Trap, RequestID: 1,
		Variables: []gosnmp.SnmpPDU{
			{Name: ".1.3.6.1.2.1.1.3.0", Type: gosnmp.TimeTicks, Value: uint32(100)},
			{Name: "." + oidSnmpTrapOID, Type: gosnmp.ObjectIdentifier, Value: "." + OIDLinkUp},
			{Name: ".1.3.6.1.2.1.31.1.1.1.1.2", Type: gosnmp.OctetString, Value: []byte("Ethernet2")},
		}}
	b, _ := p.MarshalMsg()
	f.Add(b)
	v1 := &gosnmp.SnmpPacket{Version: gosnmp.Version1, Community: "public", PDUType: gosnmp.Trap,
		SnmpTrap: gosnmp.SnmpTrap{Enterprise: ".1.3.6.1.4.1.8072", AgentAddress: "10.0.0.1", GenericTrap: 6, SpecificTrap: 3, Timestamp: 5}}
	b1, _ := v1.MarshalMsg()
	f.Add(b1)
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03})
	r, err := New(Config{ListenAddress: "127.0.0.1:0"}, events.Discard, inventory, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
		p, reason := decode(dec, pkt)
		if p == nil {
			if reason == "" {
				t.Fatal("dropped without a reason")
			}
			return
		}
		e, _, ok := r.event(p, netip.MustParseAddr("127.0.0.1"))
		if ok && (e.Kind == "" || e.Labels["instance"] == "") {
			t.Fatalf("event without kind or instance: %+v", e)
		}
	})
}

// BenchmarkTrapThroughput sends v2c linkDown traps over loopback at a fixed
// rate and reports how many per second the receiver handled and how many
// were lost (goal: 20,000/s with none lost).
//
//	go test -run XXX -bench BenchmarkTrapThroughput -benchtime 100000x ./collectors/snmp/traps/
func BenchmarkTrapThroughput(b *testing.B) {
	sink := newCollector()
	r := start(b, Config{}, sink, nil)
	conn, err := net.Dial("udp", r.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	pkt := v2Trap(b, "public", OIDLinkDown, 1)
	const rate = 25000 // traps per second offered
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if due := start.Add(time.Duration(i) * time.Second / rate); time.Until(due) > 0 {
			time.Sleep(time.Until(due))
		}
		if _, err := conn.Write(pkt); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for sink.n.Load() < int64(b.N) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	got := sink.n.Load()
	b.ReportMetric(float64(got)/elapsed.Seconds(), "traps/s")
	b.ReportMetric(float64(int64(b.N)-got), "lost")
}

package switchsim

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
)

const aristaPath = "../../collectors/snmp/testdata/recordings/arista-dcs-7150s-52-cl.snmprec"

func loadArista(t testing.TB) *Recording {
	t.Helper()
	rec, err := LoadRecording(filepath.FromSlash(aristaPath))
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

func client(t testing.TB, addr, community string, v gosnmp.SnmpVersion) *gosnmp.GoSNMP {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	g := &gosnmp.GoSNMP{Target: host, Port: uint16(p), Community: community, Version: v,
		Timeout: time.Second, Retries: 1, MaxRepetitions: 25, Context: context.Background()}
	if err := g.Connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Conn.Close() })
	return g
}

func serve(t testing.TB, o Options) *Fleet {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	f, err := Serve(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); f.Wait() })
	return f
}

// TestReplay walks a simulated switch and checks it returns the recording,
// in order, with its own sysName and with counters that move.
func TestReplay(t *testing.T) {
	rec := loadArista(t)
	f := serve(t, Options{Recording: rec, Switches: []SwitchOptions{{Name: "tor-a1"}}})
	for _, v := range []gosnmp.SnmpVersion{gosnmp.Version1, gosnmp.Version2c} {
		t.Run(v.String(), func(t *testing.T) {
			g := client(t, f.Switch("tor-a1").Addr(), "public", v)
			walk := g.BulkWalkAll
			if v == gosnmp.Version1 {
				walk = g.WalkAll
			}
			pdus, err := walk(".1.3.6.1.2.1.2.2.1.2")
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for _, rv := range rec.Vars {
				if strings.HasPrefix(rv.Name, ".1.3.6.1.2.1.2.2.1.2.") {
					want++
				}
			}
			if len(pdus) != want || want == 0 {
				t.Fatalf("walk of ifDescr: %d varbinds, recording has %d", len(pdus), want)
			}
			res, err := g.Get([]string{".1.3.6.1.2.1.1.5.0", ".1.3.6.1.2.1.1.99.0"})
			if err != nil {
				t.Fatal(err)
			}
			if v == gosnmp.Version2c {
				if got := string(res.Variables[0].Value.([]byte)); got != "tor-a1" {
					t.Errorf("sysName %q, want tor-a1", got)
				}
				if res.Variables[1].Type != gosnmp.NoSuchInstance {
					t.Errorf("missing OID: type %v, want NoSuchInstance", res.Variables[1].Type)
				}
			} else if res.Error != gosnmp.NoSuchName {
				t.Errorf("v1 GET of a missing OID: error %v, want NoSuchName", res.Error)
			}
		})
	}
	t.Run("counters move", func(t *testing.T) {
		g := client(t, f.Switch("tor-a1").Addr(), "public", gosnmp.Version2c)
		oid := ".1.3.6.1.2.1.31.1.1.1.6.1" // ifHCInOctets.1
		a, err := g.Get([]string{oid})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		b, err := g.Get([]string{oid})
		if err != nil {
			t.Fatal(err)
		}
		if gosnmp.ToBigInt(b.Variables[0].Value).Cmp(gosnmp.ToBigInt(a.Variables[0].Value)) <= 0 {
			t.Errorf("ifHCInOctets did not grow: %v then %v", a.Variables[0].Value, b.Variables[0].Value)
		}
	})
	t.Run("wrong community gets no answer", func(t *testing.T) {
		g := client(t, f.Switch("tor-a1").Addr(), "private", gosnmp.Version2c)
		g.Timeout, g.Retries = 200*time.Millisecond, 0
		if _, err := g.Get([]string{".1.3.6.1.2.1.1.5.0"}); err == nil {
			t.Fatal("answered a wrong community")
		}
	})
}

// TestLinkDownSendsTrap takes a link down and checks ifOperStatus and the
// linkDown trap.
func TestLinkDownSendsTrap(t *testing.T) {
	trapConn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer trapConn.Close()
	f := serve(t, Options{Recording: loadArista(t), Count: 2, TrapTarget: trapConn.LocalAddr().String()})
	sw := f.Switches[1]
	if sw.Name() != "sw-0002" {
		t.Fatalf("name %q", sw.Name())
	}
	if err := sw.SetLink(3, false); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = trapConn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := trapConn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no trap: %v", err)
	}
	p, err := (&gosnmp.GoSNMP{Version: gosnmp.Version2c}).SnmpDecodePacket(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if p.PDUType != gosnmp.SNMPv2Trap || len(p.Variables) < 5 {
		t.Fatalf("got %v with %d varbinds", p.PDUType, len(p.Variables))
	}
	if p.Variables[1].Value != trapLinkDown {
		t.Errorf("snmpTrapOID %v, want linkDown %s", p.Variables[1].Value, trapLinkDown)
	}
	g := client(t, sw.Addr(), "public", gosnmp.Version2c)
	res, err := g.Get([]string{".1.3.6.1.2.1.2.2.1.8.3", ".1.3.6.1.2.1.2.2.1.8.4"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Variables[0].Value != 2 {
		t.Errorf("ifOperStatus.3 = %v after SetLink down, want 2", res.Variables[0].Value)
	}
	if err := sw.SetLink(3, true); err != nil {
		t.Fatal(err)
	}
	res, _ = g.Get([]string{".1.3.6.1.2.1.2.2.1.8.3"})
	if res.Variables[0].Value == 2 {
		t.Errorf("ifOperStatus.3 still down after SetLink up")
	}
}

// TestLLDPNeighbors checks that configured neighbours replace the
// recording's LLDP tables.
func TestLLDPNeighbors(t *testing.T) {
	f := serve(t, Options{Recording: loadArista(t), Switches: []SwitchOptions{{
		Name:      "tor-b2",
		Neighbors: []Neighbor{{Port: 5, RemoteSysName: "srv-b2-05"}, {Port: 6, PortName: "Ethernet6/1", RemoteSysName: "srv-b2-06", RemotePortID: "eno1"}},
	}}})
	g := client(t, f.Switch("tor-b2").Addr(), "public", gosnmp.Version2c)
	pdus, err := g.BulkWalkAll(".1.0.8802.1.1.2.1.4.1.1.9")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pdus {
		names = append(names, p.Name+"="+string(p.Value.([]byte)))
	}
	want := []string{".1.0.8802.1.1.2.1.4.1.1.9.0.5.1=srv-b2-05", ".1.0.8802.1.1.2.1.4.1.1.9.0.6.1=srv-b2-06"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("lldpRemSysName walk:\n got %v\nwant %v", names, want)
	}
}

func TestParseRecordingErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no tag", "1.3.6.1|2\n", "line 1: want OID|TAG|VALUE"},
		{"bad oid", "1.x.6|2|1\n", `line 1: OID "1.x.6": bad arc "x"`},
		{"bad int", "1.3.6|2|abc\n", `line 1: INTEGER "abc"`},
		{"bad hex", "1.3.6|4|ok\n1.3.7|4x|zz\n", "line 2: value: encoding/hex"},
		{"unknown tag", "1.3.6|99|1\n", "line 1: unsupported tag 99"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRecording(strings.NewReader(tc.in))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error %v, want prefix %q", err, tc.want)
			}
		})
	}
}

func FuzzParseRecording(f *testing.F) {
	f.Add("1.3.6.1.2.1.1.5.0|4|name\n1.3.6.1.2.1.1.3.0|67|100\n")
	f.Add("1.3.6.1|4x|414243\n1.3.6.2|70|18446744073709551615\n1.3.6.3|64x|0a000001\n")
	f.Fuzz(func(t *testing.T, in string) {
		rec, err := ParseRecording(strings.NewReader(in))
		if err != nil {
			return
		}
		for i := 1; i < len(rec.Vars); i++ {
			if compareOID(rec.Vars[i-1].OID, rec.Vars[i].OID) >= 0 {
				t.Fatalf("not sorted and unique at %d", i)
			}
		}
	})
}

package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	switchsim "github.com/fleetwatch/fleetwatch/simulate/switch"
)

// fault is how the fake agent misbehaves.
type fault string

const (
	faultNone          fault = "none"
	faultSilent        fault = "silent"         // never answers
	faultSlow          fault = "slow"           // answers after 300 ms
	faultNotIncreasing fault = "not_increasing" // ifTable walk goes backwards
	faultTruncated     fault = "truncated"      // every response cut in half
	faultTooBig        fault = "too_big"        // tooBig for max-repetitions > 4
)

// fakeAgent is a small SNMP v2c responder over a fixed table (3 interfaces
// of ifTable and ifXTable) that misbehaves as told.
type fakeAgent struct {
	conn  net.PacketConn
	fault fault
	vars  []gosnmp.SnmpPDU // sorted
}

func startFakeAgent(t testing.TB, f fault) string {
	t.Helper()
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &fakeAgent{conn: conn, fault: f}
	for i := 1; i <= 3; i++ {
		a.vars = append(a.vars,
			gosnmp.SnmpPDU{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.2.%d", i), Type: gosnmp.OctetString, Value: []byte(fmt.Sprintf("eth%d", i))},
			gosnmp.SnmpPDU{Name: fmt.Sprintf(".1.3.6.1.2.1.2.2.1.8.%d", i), Type: gosnmp.Integer, Value: 1},
			gosnmp.SnmpPDU{Name: fmt.Sprintf(".1.3.6.1.2.1.31.1.1.1.1.%d", i), Type: gosnmp.OctetString, Value: []byte(fmt.Sprintf("eth%d", i))},
			gosnmp.SnmpPDU{Name: fmt.Sprintf(".1.3.6.1.2.1.31.1.1.1.6.%d", i), Type: gosnmp.Counter64, Value: uint64(1000 * i)},
		)
	}
	sortPDUs(a.vars)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); a.serve() }()
	t.Cleanup(func() { conn.Close(); wg.Wait() })
	return conn.LocalAddr().String()
}

func sortPDUs(p []gosnmp.SnmpPDU) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && oidCompare(p[j].Name[1:], p[j-1].Name[1:]) < 0; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func (a *fakeAgent) serve() {
	buf := make([]byte, 65535)
	dec := &gosnmp.GoSNMP{Version: gosnmp.Version2c}
	for {
		n, from, err := a.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		req, err := dec.SnmpDecodePacket(buf[:n])
		if err != nil || a.fault == faultSilent {
			continue
		}
		resp := &gosnmp.SnmpPacket{Version: req.Version, Community: req.Community, PDUType: gosnmp.GetResponse, RequestID: req.RequestID}
		switch {
		case a.fault == faultTooBig && req.PDUType == gosnmp.GetBulkRequest && req.MaxRepetitions > 4:
			resp.Error = gosnmp.TooBig
			resp.Variables = req.Variables
		case req.PDUType == gosnmp.GetBulkRequest:
			cursor := req.Variables[0].Name[1:]
			for r := 0; r < int(req.MaxRepetitions); r++ {
				v, ok := a.next(cursor)
				if !ok {
					resp.Variables = append(resp.Variables, gosnmp.SnmpPDU{Name: "." + cursor, Type: gosnmp.EndOfMibView})
					break
				}
				if a.fault == faultNotIncreasing && strings.HasPrefix(v.Name, ".1.3.6.1.2.1.2.2.1.8.") {
					v.Name = ".1.3.6.1.2.1.2.2.1.2.1" // back to the first row
				}
				resp.Variables = append(resp.Variables, v)
				cursor = v.Name[1:]
			}
		default:
			for _, q := range req.Variables {
				v := gosnmp.SnmpPDU{Name: q.Name, Type: gosnmp.NoSuchInstance}
				for _, x := range a.vars {
					if x.Name == q.Name {
						v = x
					}
				}
				resp.Variables = append(resp.Variables, v)
			}
		}
		out, err := resp.MarshalMsg()
		if err != nil {
			continue
		}
		if a.fault == faultTruncated {
			out = out[:len(out)/2]
		}
		if a.fault == faultSlow {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = a.conn.WriteTo(out, from)
	}
}

func (a *fakeAgent) next(oid string) (gosnmp.SnmpPDU, bool) {
	for _, v := range a.vars {
		if oidCompare(v.Name[1:], oid) > 0 {
			return v, true
		}
	}
	return gosnmp.SnmpPDU{}, false
}

// TestFaults polls misbehaving agents and a healthy simulated switch at the
// same time: each fault is a clear error (or kept partial results) for its
// device only, and the healthy one's samples are as when polled alone.
func TestFaults(t *testing.T) {
	rec, err := switchsim.LoadRecording(filepath.Join("testdata", "recordings", "linux-full-walk.snmprec"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fleet, err := switchsim.Serve(ctx, switchsim.Options{Recording: rec, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	healthy := fleet.Switches[0].Addr()
	reg := prometheus.NewRegistry()
	cfg := DefaultConfig()
	cfg.Timeout, cfg.Retries = 500*time.Millisecond, 1
	c, err := New(cfg, nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	alone, err := collect(t, c, healthy, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The simulated switch's counters move: compare the series, not values.
	seriesOf := func(a *memAppender) string {
		var lines []string
		for _, l := range strings.Split(a.text(isSelfMetric), "\n") {
			if i := strings.LastIndexByte(l, ' '); i > 0 {
				lines = append(lines, l[:i])
			}
		}
		return strings.Join(lines, "\n")
	}
	wantHealthy := seriesOf(alone)

	cases := []struct {
		fault     fault
		wantErr   string // "" = the collection succeeds
		wantKind  string // a kind in snmp_scrape_errors (partial results)
		wantSerie string // a series that must be there
	}{
		{faultSilent, "timeout", "", ""},
		{faultSlow, "", "", `{__name__="ifOperStatus", ifDescr="eth2", ifIndex="2", ifName="eth2"}`},
		{faultNotIncreasing, "", KindNotIncreasing, `{__name__="ifHCInOctets", ifDescr="eth3", ifIndex="3", ifName="eth3"}`},
		{faultTruncated, "decode", "", ""},
		{faultTooBig, "", "", `{__name__="ifHCInOctets", ifDescr="eth3", ifIndex="3", ifName="eth3"}`},
	}
	type result struct {
		app *memAppender
		err error
	}
	results := make([]result, len(cases))
	var healthyApp *memAppender
	var healthyErr error
	var wg sync.WaitGroup
	for i, tc := range cases {
		addr := startFakeAgent(t, tc.fault)
		wg.Add(1)
		go func() {
			defer wg.Done()
			app, err := collect(t, c, addr, nil)
			results[i] = result{app, err}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); healthyApp, healthyErr = collect(t, c, healthy, nil) }()
	wg.Wait()

	for i, tc := range cases {
		t.Run(string(tc.fault), func(t *testing.T) {
			r := results[i]
			if tc.wantErr != "" {
				if r.err == nil || !strings.Contains(r.err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", r.err, tc.wantErr)
				}
				var we *WalkError
				if !errors.As(r.err, &we) {
					t.Errorf("error %v is not a *WalkError", r.err)
				}
				if !strings.Contains(r.err.Error(), "target \"127.0.0.1:") {
					t.Errorf("error %q does not name the target", r.err)
				}
				return
			}
			if r.err != nil {
				t.Fatalf("collect: %v", r.err)
			}
			if tc.wantKind != "" {
				k := fmt.Sprintf(`{__name__="snmp_scrape_errors", kind=%q}`, tc.wantKind)
				if r.app.samples[k] != 1 {
					t.Errorf("%s = %v, want 1", k, r.app.samples[k])
				}
			}
			if _, ok := r.app.samples[tc.wantSerie]; !ok {
				t.Errorf("missing %s; got\n%s", tc.wantSerie, r.app.text(isSelfMetric))
			}
		})
	}
	t.Run("dead agent costs one request", func(t *testing.T) {
		// One GET batch, sent 1+retries times, then the poll stops.
		sent := testutil.ToFloat64(c.metrics.sent.WithLabelValues("snmp"))
		if sent <= 0 {
			t.Fatal("no packets counted")
		}
		if got := testutil.ToFloat64(c.metrics.errors.WithLabelValues("snmp", KindTimeout)); got != 1 {
			t.Errorf("timeout errors %v, want 1 (the silent agent only)", got)
		}
	})
	t.Run("too big halves repetitions", func(t *testing.T) {
		if got := testutil.ToFloat64(c.metrics.tooBig.WithLabelValues("snmp")); got < 3 {
			t.Errorf("fleetwatch_snmp_repetitions_reduced_total %v, want at least 3 (25 → 12 → 6 → 3)", got)
		}
	})
	t.Run("healthy device unaffected", func(t *testing.T) {
		if healthyErr != nil {
			t.Fatal(healthyErr)
		}
		got := seriesOf(healthyApp)
		if got != wantHealthy {
			t.Errorf("healthy device's samples differ when polled with faulty ones:\n%s", diffLines(wantHealthy, got))
		}
	})
}

// TestSNMPv3 polls snmpd with v3 users at each security level and checks a
// wrong password is a clear auth error.
func TestSNMPv3(t *testing.T) {
	addr := startSnmpd(t,
		"createUser fwnoauth",
		"createUser fwauth SHA-256 authpass123",
		"createUser fwpriv SHA-512 authpass123 AES privpass123",
		"createUser fwmd5des MD5 authpass123 DES privpass123",
		"rouser fwnoauth noauth", "rouser fwauth auth", "rouser fwpriv priv", "rouser fwmd5des priv")
	dir := t.TempDir()
	write := func(name, v string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad, priv := write("good", "authpass123"), write("bad", "wrongpass123"), write("priv", "privpass123")
	auth := func(user, level, ap, pass, pp string) *Auth {
		a := DefaultAuth()
		a.Version, a.Username, a.SecurityLevel = 3, user, level
		a.AuthProtocol, a.PasswordFile = ap, pass
		a.PrivProtocol, a.PrivPasswordFile = pp, priv
		return &a
	}
	auths := Auths{
		"noauth":  auth("fwnoauth", "noAuthNoPriv", "MD5", "", "DES"),
		"auth":    auth("fwauth", "authNoPriv", "SHA256", good, "DES"),
		"priv":    auth("fwpriv", "authPriv", "SHA512", good, "AES"),
		"md5des":  auth("fwmd5des", "authPriv", "MD5", good, "DES"),
		"badpass": auth("fwpriv", "authPriv", "SHA512", bad, "AES"),
	}
	c := newTestCollector(t, func(c *Config) { c.Auths = auths; c.Timeout = time.Second })
	for _, name := range []string{"noauth", "auth", "priv", "md5des", "badpass"} {
		t.Run(name, func(t *testing.T) {
			app, err := collect(t, c, addr, map[string]string{ParamAuth: name})
			if name == "badpass" {
				if err == nil || !strings.Contains(err.Error(), KindAuth) {
					t.Fatalf("error %v, want an auth error", err)
				}
				if strings.Contains(err.Error(), "wrongpass") {
					t.Errorf("error %q shows the password", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(app.samples) < 20 {
				t.Errorf("only %d samples", len(app.samples))
			}
		})
	}
}

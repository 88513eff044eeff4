package probe

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"golang.org/x/net/dns/dnsmessage"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/collectors"
)

type memApp struct {
	mu sync.Mutex
	s  map[string]float64
}

func (a *memApp) Append(ls labels.Labels, _ int64, v float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.s == nil {
		a.s = map[string]float64{}
	}
	a.s[ls.String()] = v
	return nil
}
func (a *memApp) SetMetadata(string, metadata.Metadata) {}

func run(t *testing.T, cfg Config, addr string) *memApp {
	t.Helper()
	c, err := New(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	app := &memApp{}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Collect(ctx, collectors.Target{Job: "probe", Address: addr}, app); err != nil {
		t.Fatal(err)
	}
	return app
}

func must(t *testing.T, app *memApp, series string, want float64) {
	t.Helper()
	got, ok := app.s[series]
	if !ok {
		var have []string
		for k := range app.s {
			have = append(have, k)
		}
		t.Fatalf("missing %s; have %s", series, strings.Join(have, "\n"))
	}
	if want >= 0 && got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

func TestTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := run(t, Config{Prober: TCP}, l.Addr().String())
	must(t, open, `{__name__="probe_success"}`, 1)
	must(t, open, `{__name__="probe_rtt_seconds_count"}`, 1)
	must(t, open, `{__name__="probe_tcp_duration_seconds", phase="connect"}`, -1)
	addr := l.Addr().String()
	l.Close()
	closed := run(t, Config{Prober: TCP}, addr)
	must(t, closed, `{__name__="probe_success"}`, 0)
	must(t, closed, `{__name__="probe_packets_sent_total"}`, 1)
	must(t, closed, `{__name__="probe_packets_received_total"}`, 0)
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("hello"))
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name    string
		cfg     Config
		path    string
		success float64
		status  float64
	}{
		{"ok", Config{Prober: HTTP, HTTP: HTTPConfig{InsecureSkipVerify: true}}, "/", 1, 200},
		{"404 invalid", Config{Prober: HTTP, HTTP: HTTPConfig{InsecureSkipVerify: true}}, "/missing", 0, 404},
		{"404 valid", Config{Prober: HTTP, HTTP: HTTPConfig{InsecureSkipVerify: true, ValidStatusCodes: []int{404}}}, "/missing", 1, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := run(t, tc.cfg, srv.URL+tc.path)
			must(t, app, `{__name__="probe_success"}`, tc.success)
			must(t, app, `{__name__="probe_http_status_code"}`, tc.status)
			must(t, app, `{__name__="probe_http_ssl"}`, 1)
			for _, p := range []string{"resolve", "connect", "tls", "processing", "transfer"} {
				must(t, app, `{__name__="probe_http_duration_seconds", phase="`+p+`"}`, -1)
			}
			must(t, app, `{__name__="probe_ssl_earliest_cert_expiry"}`, -1)
		})
	}
	t.Run("bad certificate", func(t *testing.T) {
		app := run(t, Config{Prober: HTTP}, srv.URL)
		must(t, app, `{__name__="probe_success"}`, 0)
	})
}

// fakeDNS answers A queries for name with 10.0.0.1 and NXDOMAIN otherwise.
func fakeDNS(t *testing.T, name string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if err := m.Unpack(buf[:n]); err != nil || len(m.Questions) == 0 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response, m.Header.Authoritative = true, true
			if q.Name.String() == name && q.Type == dnsmessage.TypeA {
				m.Answers = []dnsmessage.Resource{{Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 60},
					Body: &dnsmessage.AResource{A: [4]byte{10, 0, 0, 1}}}}
			} else {
				m.Header.RCode = dnsmessage.RCodeNameError
			}
			out, err := m.Pack()
			if err == nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func TestDNS(t *testing.T) {
	server := fakeDNS(t, "db.example.internal.")
	app := run(t, Config{Prober: DNS, DNS: DNSConfig{QueryName: "db.example.internal"}}, server)
	must(t, app, `{__name__="probe_success"}`, 1)
	must(t, app, `{__name__="probe_dns_answer_rrs"}`, 1)
	must(t, app, `{__name__="probe_dns_lookup_time_seconds"}`, -1)
	app = run(t, Config{Prober: DNS, DNS: DNSConfig{QueryName: "nope.example.internal"}}, server)
	must(t, app, `{__name__="probe_success"}`, 0)
}

func TestICMP(t *testing.T) {
	if _, _, err := listenICMP(false); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no ICMP socket (allow ping sockets with net.ipv4.ping_group_range or run as root): %v", err)
		}
		t.Skipf("no ICMP socket on this machine: %v", err)
	}
	app := run(t, Config{Prober: ICMP, ICMP: ICMPConfig{Count: 3, Interval: 10 * time.Millisecond}}, "127.0.0.1")
	must(t, app, `{__name__="probe_success"}`, 1)
	must(t, app, `{__name__="probe_icmp_packets_sent"}`, 3)
	must(t, app, `{__name__="probe_icmp_packets_received"}`, 3)
	must(t, app, `{__name__="probe_rtt_seconds_count"}`, 3)
	must(t, app, `{__name__="probe_icmp_duration_seconds", phase="rtt"}`, -1)
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"prober: ping\n", `probe config: prober: "ping" is not icmp, tcp, http or dns`},
		{"prober: dns\n", "probe config: dns.query_name: required for the dns prober"},
		{"prober: icmp\nicmp:\n  count: 0\n", "probe config: icmp.count: 0 must be between 1 and 100"},
		{"prober: icmp\nicmp:\n  cnt: 2\n", `line 3: unknown probe config key "icmp.cnt"`},
		{"prober: http\nhttp:\n  valid_status_codes: [99]\n", "probe config: http.valid_status_codes[0]: 99 is not an HTTP status"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			var c Config
			err := yaml.Unmarshal([]byte(tc.in), &c)
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func FuzzConfig(f *testing.F) {
	f.Add("prober: icmp\nicmp:\n  count: 3\n")
	f.Add("prober: http\nhttp:\n  headers:\n    Host: x\n")
	f.Fuzz(func(t *testing.T, in string) {
		var c Config
		if yaml.Unmarshal([]byte(in), &c) != nil || c.Validate() != nil {
			return
		}
		if _, err := New(c, nil, nil); err != nil {
			t.Fatalf("valid config refused by New: %v", err)
		}
	})
}

package bmc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Options configure a simulated fleet.
type Options struct {
	// Count is the number of BMCs (default 1).
	Count int
	// Mockups are the mockups served, in turn (BMC i serves
	// Mockups[i%len]); default all of MockupNames().
	Mockups []string
	// Host is the address the BMCs listen on (default 127.0.0.1). Each BMC
	// gets a port of its own.
	Host string
	// BasePort, when not 0, puts BMC i on BasePort+i instead of a free port.
	BasePort int
	// TLS serves https with a certificate made at start (see CACertPEM).
	TLS bool
	// ControlAddr, when set (e.g. 127.0.0.1:0), serves the fault control
	// endpoint there.
	ControlAddr string
	// Schedule injects faults at given times after start.
	Schedule []ScheduledFault
	// Logger receives the fleet's own messages (default: discarded).
	Logger *slog.Logger
	// BMC holds the settings every BMC shares (Index is set per BMC).
	BMC HandlerOptions
}

// ScheduledFault turns Fault on for BMC (-1: every BMC) After the start,
// and off again after For (0: stays on).
type ScheduledFault struct {
	After time.Duration `json:"after"`
	For   time.Duration `json:"for"`
	BMC   int           `json:"bmc"`
	Fault Fault         `json:"fault"`
}

// Fleet is a running set of simulated BMCs.
type Fleet struct {
	bmcs    []*BMC
	addrs   []string
	servers []*http.Server
	control *http.Server
	ctlAddr string
	caPEM   []byte
	logger  *slog.Logger
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

// Serve starts the fleet and returns once every BMC listens. The fleet
// stops when ctx ends or Close is called.
func Serve(ctx context.Context, opts Options) (*Fleet, error) {
	if opts.Count <= 0 {
		opts.Count = 1
	}
	if len(opts.Mockups) == 0 {
		opts.Mockups = MockupNames()
	}
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	mocks := make([]*Mockup, len(opts.Mockups))
	for i, name := range opts.Mockups {
		m, err := LoadMockup(name)
		if err != nil {
			return nil, err
		}
		mocks[i] = m
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Fleet{logger: opts.Logger, cancel: cancel}
	var tlsCfg *tls.Config
	if opts.TLS {
		cert, caPEM, err := selfSigned(opts.Host)
		if err != nil {
			cancel()
			return nil, err
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		f.caPEM = caPEM
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
	}
	for i := range opts.Count {
		ho := opts.BMC
		ho.Index = i
		b := NewBMC(mocks[i%len(mocks)], ho)
		addr := net.JoinHostPort(opts.Host, "0")
		if opts.BasePort > 0 {
			addr = net.JoinHostPort(opts.Host, strconv.Itoa(opts.BasePort+i))
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			cancel()
			f.Close()
			return nil, fmt.Errorf("BMC %d: %w", i, err)
		}
		if tlsCfg != nil {
			l = tls.NewListener(l, tlsCfg)
		}
		srv := &http.Server{Handler: b, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
		f.bmcs = append(f.bmcs, b)
		f.servers = append(f.servers, srv)
		f.addrs = append(f.addrs, scheme+"://"+l.Addr().String())
		f.wg.Add(1)
		go func() { defer f.wg.Done(); _ = srv.Serve(l) }()
	}
	if opts.ControlAddr != "" {
		l, err := net.Listen("tcp", opts.ControlAddr)
		if err != nil {
			cancel()
			f.Close()
			return nil, fmt.Errorf("control endpoint: %w", err)
		}
		f.ctlAddr = l.Addr().String()
		f.control = &http.Server{Handler: f.ControlHandler(), ReadHeaderTimeout: 10 * time.Second}
		f.wg.Add(1)
		go func() { defer f.wg.Done(); _ = f.control.Serve(l) }()
	}
	for _, sf := range opts.Schedule {
		f.wg.Add(1)
		go func() { defer f.wg.Done(); f.runScheduled(ctx, sf) }()
	}
	go func() { <-ctx.Done(); f.shutdown() }()
	return f, nil
}

func (f *Fleet) runScheduled(ctx context.Context, sf ScheduledFault) {
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	if !wait(sf.After) {
		return
	}
	if err := f.SetFault(sf.BMC, sf.Fault, true); err != nil {
		f.logger.Warn("scheduled fault", "bmc", sf.BMC, "fault", sf.Fault, "err", err)
		return
	}
	f.logger.Info("fault on", "bmc", sf.BMC, "fault", sf.Fault)
	if sf.For > 0 && wait(sf.For) {
		_ = f.SetFault(sf.BMC, sf.Fault, false)
		f.logger.Info("fault off", "bmc", sf.BMC, "fault", sf.Fault)
	}
}

// Addresses returns the BMCs' base URLs (http://127.0.0.1:port), in order.
func (f *Fleet) Addresses() []string { return append([]string(nil), f.addrs...) }

// BMC returns BMC i.
func (f *Fleet) BMC(i int) *BMC { return f.bmcs[i] }

// Len is the number of BMCs.
func (f *Fleet) Len() int { return len(f.bmcs) }

// ControlURL is the base URL of the control endpoint, or "".
func (f *Fleet) ControlURL() string {
	if f.ctlAddr == "" {
		return ""
	}
	return "http://" + f.ctlAddr
}

// CACertPEM is the certificate to trust when the fleet serves TLS.
func (f *Fleet) CACertPEM() []byte { return f.caPEM }

// SetFault turns a fault on or off for BMC i, or every BMC when i is -1.
func (f *Fleet) SetFault(i int, fault Fault, on bool) error {
	if i == -1 {
		for _, b := range f.bmcs {
			if err := b.SetFault(fault, on); err != nil {
				return err
			}
		}
		return nil
	}
	if i < 0 || i >= len(f.bmcs) {
		return fmt.Errorf("no BMC %d (fleet has %d)", i, len(f.bmcs))
	}
	return f.bmcs[i].SetFault(fault, on)
}

// Close stops every BMC and the control endpoint.
func (f *Fleet) Close() error {
	if f.cancel != nil {
		f.cancel()
	}
	f.shutdown()
	f.wg.Wait()
	return nil
}

func (f *Fleet) shutdown() {
	for _, s := range f.servers {
		_ = s.Close()
	}
	if f.control != nil {
		_ = f.control.Close()
	}
}

// ControlHandler serves the fault control endpoint:
//
//	GET    /bmcs                          the BMCs: index, address, mockup, faults
//	GET    /faults                        active faults
//	POST   /faults?bmc=3&fault=fan_stop   turn a fault on (bmc=-1: all)
//	DELETE /faults?bmc=3[&fault=fan_stop] turn one or every fault off
func (f *Fleet) ControlHandler() http.Handler {
	mux := http.NewServeMux()
	type row struct {
		BMC     int     `json:"bmc"`
		Address string  `json:"address"`
		Mockup  string  `json:"mockup"`
		Faults  []Fault `json:"faults"`
	}
	list := func(onlyFaulty bool) []row {
		var out []row
		for i, b := range f.bmcs {
			fs := b.Faults()
			if onlyFaulty && len(fs) == 0 {
				continue
			}
			out = append(out, row{i, f.addrs[i], b.Mockup(), fs})
		}
		return out
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("GET /bmcs", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, list(false)) })
	mux.HandleFunc("GET /faults", func(w http.ResponseWriter, r *http.Request) { reply(w, 200, list(true)) })
	set := func(w http.ResponseWriter, r *http.Request, on bool) {
		i, err := strconv.Atoi(r.URL.Query().Get("bmc"))
		if err != nil {
			reply(w, 400, map[string]string{"error": "bmc: want a BMC index, or -1 for all"})
			return
		}
		faults := []Fault{Fault(r.URL.Query().Get("fault"))}
		if !on && faults[0] == "" {
			faults = AllFaults()
		}
		for _, fl := range faults {
			if err := f.SetFault(i, fl, on); err != nil {
				reply(w, 400, map[string]string{"error": err.Error()})
				return
			}
		}
		reply(w, 200, list(true))
	}
	mux.HandleFunc("POST /faults", func(w http.ResponseWriter, r *http.Request) { set(w, r, true) })
	mux.HandleFunc("DELETE /faults", func(w http.ResponseWriter, r *http.Request) { set(w, r, false) })
	return mux
}

// selfSigned makes a certificate for host, valid for a day.
func selfSigned(host string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "fleetwatch simulated BMC"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, errors.Join(errors.New("simulated BMC certificate"), err)
	}
	return cert, certPEM, nil
}

package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"gopkg.in/yaml.v3"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/internal/yamlutil"
)

// Probers.
const (
	ICMP = "icmp"
	TCP  = "tcp"
	HTTP = "http"
	DNS  = "dns"
)

// Config is a probe job: which prober and its settings. Target.Address is
// what is probed (a host for icmp, host:port for tcp and dns, a URL or
// host[:port] for http).
type Config struct {
	// Prober is icmp, tcp, http or dns. Required.
	Prober string `yaml:"prober"`
	// Timeout bounds one probe; 0 uses the job's scrape_timeout.
	Timeout time.Duration `yaml:"timeout"`
	// IPProtocol is ip4 or ip6 (default ip4), as blackbox_exporter's
	// preferred_ip_protocol.
	IPProtocol string `yaml:"ip_protocol"`
	// ICMP settings.
	ICMP ICMPConfig `yaml:"icmp"`
	// HTTP settings.
	HTTP HTTPConfig `yaml:"http"`
	// DNS settings.
	DNS DNSConfig `yaml:"dns"`
	// Buckets of probe_rtt_seconds, the RTT histogram kept per target.
	// Default 0.0001 s to ~3.3 s, doubling.
	Buckets []float64 `yaml:"buckets"`
}

// ICMPConfig sets the echo requests of one probe.
type ICMPConfig struct {
	// Count is how many echo requests one probe sends (loss is counted over
	// them). Default 1, as blackbox_exporter: probe_duration_seconds is
	// then close to the RTT, which the latency rule pack expects.
	Count int `yaml:"count"`
	// Interval between the requests. Default 100ms.
	Interval time.Duration `yaml:"interval"`
	// PayloadSize in bytes. Default 56.
	PayloadSize int `yaml:"payload_size"`
}

// HTTPConfig sets the request of an http probe.
type HTTPConfig struct {
	// Method. Default GET.
	Method string `yaml:"method"`
	// ValidStatusCodes; empty accepts 2xx.
	ValidStatusCodes []int `yaml:"valid_status_codes"`
	// Headers added to the request.
	Headers map[string]string `yaml:"headers"`
	// NoFollowRedirects stops at the first response. Default false.
	NoFollowRedirects bool `yaml:"no_follow_redirects"`
	// InsecureSkipVerify accepts any certificate.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// DNSConfig sets the query of a dns probe; the target is the server.
type DNSConfig struct {
	// QueryName is resolved. Required for dns.
	QueryName string `yaml:"query_name"`
	// QueryType is A or AAAA. Default A.
	QueryType string `yaml:"query_type"`
	// Transport is udp or tcp. Default udp.
	Transport string `yaml:"transport"`
}

// DefaultBuckets are probe_rtt_seconds' default buckets.
func DefaultBuckets() []float64 { return prometheus.ExponentialBuckets(0.0001, 2, 16) }

func defaults() Config {
	return Config{IPProtocol: "ip4", ICMP: ICMPConfig{Count: 1, Interval: 100 * time.Millisecond, PayloadSize: 56},
		HTTP: HTTPConfig{Method: http.MethodGet}, DNS: DNSConfig{QueryType: "A", Transport: "udp"}}
}

// fillDefaults sets the defaults of fields left zero, for a Config built
// in Go rather than decoded.
func (c *Config) fillDefaults() {
	d := defaults()
	if c.IPProtocol == "" {
		c.IPProtocol = d.IPProtocol
	}
	if c.ICMP.Count == 0 {
		c.ICMP.Count = d.ICMP.Count
	}
	if c.ICMP.Interval == 0 {
		c.ICMP.Interval = d.ICMP.Interval
	}
	if c.ICMP.PayloadSize == 0 {
		c.ICMP.PayloadSize = d.ICMP.PayloadSize
	}
	if c.HTTP.Method == "" {
		c.HTTP.Method = d.HTTP.Method
	}
	if c.DNS.QueryType == "" {
		c.DNS.QueryType = d.DNS.QueryType
	}
	if c.DNS.Transport == "" {
		c.DNS.Transport = d.DNS.Transport
	}
}

// UnmarshalYAML fills defaults and refuses unknown keys, naming the line.
func (c *Config) UnmarshalYAML(node *yaml.Node) error {
	*c = defaults()
	if err := yamlutil.CheckKeys(node, reflect.TypeFor[Config](), yamlutil.KeyOptions{Noun: "probe config"}); err != nil {
		return err
	}
	type plain Config
	return node.Decode((*plain)(c))
}

// Validate checks the config, naming the bad key.
func (c *Config) Validate() error {
	switch c.Prober {
	case ICMP, TCP, HTTP, DNS:
	case "":
		return errors.New("probe config: prober: required (icmp, tcp, http or dns)")
	default:
		return fmt.Errorf("probe config: prober: %q is not icmp, tcp, http or dns", c.Prober)
	}
	if c.IPProtocol != "ip4" && c.IPProtocol != "ip6" {
		return fmt.Errorf("probe config: ip_protocol: %q is not ip4 or ip6", c.IPProtocol)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("probe config: timeout: %v must not be negative", c.Timeout)
	}
	if c.ICMP.Count < 1 || c.ICMP.Count > 100 {
		return fmt.Errorf("probe config: icmp.count: %d must be between 1 and 100", c.ICMP.Count)
	}
	if c.ICMP.PayloadSize < 0 || c.ICMP.PayloadSize > 65000 {
		return fmt.Errorf("probe config: icmp.payload_size: %d out of range", c.ICMP.PayloadSize)
	}
	if c.Prober == DNS && c.DNS.QueryName == "" {
		return errors.New("probe config: dns.query_name: required for the dns prober")
	}
	if c.DNS.QueryType != "A" && c.DNS.QueryType != "AAAA" {
		return fmt.Errorf("probe config: dns.query_type: %q is not A or AAAA", c.DNS.QueryType)
	}
	if c.DNS.Transport != "udp" && c.DNS.Transport != "tcp" {
		return fmt.Errorf("probe config: dns.transport: %q is not udp or tcp", c.DNS.Transport)
	}
	for i, code := range c.HTTP.ValidStatusCodes {
		if code < 100 || code > 599 {
			return fmt.Errorf("probe config: http.valid_status_codes[%d]: %d is not an HTTP status", i, code)
		}
	}
	if !sort.Float64sAreSorted(c.Buckets) {
		return errors.New("probe config: buckets: must be increasing")
	}
	return nil
}

// Collector probes targets. One Collector serves every target of a job and
// is safe for concurrent use. It keeps, per target, the cumulative RTT
// histogram and the sent/lost counts.
type Collector struct {
	cfg     Config
	logger  *slog.Logger
	failed  *prometheus.CounterVec
	buckets []float64

	mu    sync.Mutex
	state map[string]*targetState
}

type targetState struct {
	counts   []uint64 // per bucket, cumulative over probes (not over buckets)
	sum      float64
	count    uint64
	sent     uint64
	received uint64
}

var _ collectors.Collector = (*Collector)(nil)

// New validates cfg and returns a Collector; its self-metric is registered
// on reg (may be nil; several Collectors may share one).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	cfg.fillDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Collector{cfg: cfg, logger: logger, state: map[string]*targetState{}, buckets: cfg.Buckets}
	if len(c.buckets) == 0 {
		c.buckets = DefaultBuckets()
	}
	c.failed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetwatch_probe_failures_total",
		Help: "Probes that failed, by job, prober and reason (resolve, connect, timeout, tls, http_status, dns, icmp, target).",
	}, []string{"job", "prober", "reason"})
	if reg != nil {
		if err := reg.Register(c.failed); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return nil, err
			}
			c.failed = existing
		}
	}
	return c, nil
}

// result is what one probe measured.
type result struct {
	success  bool
	reason   string
	err      error
	rtts     []time.Duration // successful round trips (icmp), or the connect time
	sent     int
	phases   map[string]float64
	gauges   []gauge
	duration time.Duration
}

type gauge struct {
	name, help string
	v          float64
	ls         []string
}

// Collect runs one probe. A failed probe is not an error: it is
// probe_success 0, as blackbox_exporter reports it; only a target the
// prober cannot use at all (a malformed address) is.
func (c *Collector) Collect(ctx context.Context, t collectors.Target, app collectors.Appender) error {
	if c.cfg.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	start := time.Now()
	var r result
	switch c.cfg.Prober {
	case ICMP:
		r = c.probeICMP(ctx, t.Address)
	case TCP:
		r = c.probeTCP(ctx, t.Address)
	case HTTP:
		r = c.probeHTTP(ctx, t.Address)
	case DNS:
		r = c.probeDNS(ctx, t.Address)
	}
	r.duration = time.Since(start)
	if r.reason == "target" {
		c.failed.WithLabelValues(t.Job, c.cfg.Prober, r.reason).Inc()
		return fmt.Errorf("target %q: %w", t.Address, r.err)
	}
	if !r.success {
		c.failed.WithLabelValues(t.Job, c.cfg.Prober, r.reason).Inc()
		c.logger.Debug("probe failed", "target", t.Address, "prober", c.cfg.Prober, "reason", r.reason, "err", r.err)
	}
	return c.write(t, app, &r)
}

func (c *Collector) write(t collectors.Target, app collectors.Appender, r *result) error {
	var err error
	emit := func(name, help string, typ model.MetricType, v float64, ls ...string) {
		if err != nil {
			return
		}
		app.SetMetadata(name, metadata.Metadata{Type: typ, Help: help})
		err = app.Append(labels.FromStrings(append([]string{labels.MetricName, name}, ls...)...), 0, v)
	}
	emit("probe_success", "Displays whether or not the probe was a success", model.MetricTypeGauge, b2f(r.success))
	emit("probe_duration_seconds", "Returns how long the probe took to complete in seconds", model.MetricTypeGauge, r.duration.Seconds())
	phases := make([]string, 0, len(r.phases))
	for p := range r.phases {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	for _, p := range phases {
		name := "probe_" + c.cfg.Prober + "_duration_seconds"
		emit(name, "Duration of the probe by phase, summed over all redirects", model.MetricTypeGauge, r.phases[p], "phase", p)
	}
	for _, g := range r.gauges {
		emit(g.name, g.help, model.MetricTypeGauge, g.v, g.ls...)
	}
	// Cumulative RTT histogram and loss for this target.
	c.mu.Lock()
	st := c.state[t.Address]
	if st == nil {
		st = &targetState{counts: make([]uint64, len(c.buckets))}
		c.state[t.Address] = st
	}
	for _, d := range r.rtts {
		s := d.Seconds()
		for i, b := range c.buckets {
			if s <= b {
				st.counts[i]++
			}
		}
		st.sum += s
		st.count++
	}
	st.sent += uint64(r.sent)
	st.received += uint64(len(r.rtts))
	snap := *st
	snap.counts = append([]uint64(nil), st.counts...)
	c.mu.Unlock()
	const hname = "probe_rtt_seconds"
	app.SetMetadata(hname, metadata.Metadata{Type: model.MetricTypeHistogram, Help: "Round-trip times of this target's successful probes (echo replies, TCP connects, HTTP first bytes, DNS answers), since fleetwatch started."})
	for i, b := range c.buckets {
		emitRaw(app, &err, hname+"_bucket", float64(snap.counts[i]), "le", strconv.FormatFloat(b, 'g', -1, 64))
	}
	emitRaw(app, &err, hname+"_bucket", float64(snap.count), "le", "+Inf")
	emitRaw(app, &err, hname+"_sum", snap.sum)
	emitRaw(app, &err, hname+"_count", float64(snap.count))
	app.SetMetadata("probe_packets_sent_total", metadata.Metadata{Type: model.MetricTypeCounter, Help: "Probe packets (echo requests, connects, queries) sent to this target since fleetwatch started."})
	emitRaw(app, &err, "probe_packets_sent_total", float64(snap.sent))
	app.SetMetadata("probe_packets_received_total", metadata.Metadata{Type: model.MetricTypeCounter, Help: "Probe packets answered by this target since fleetwatch started; loss = 1 - received/sent."})
	emitRaw(app, &err, "probe_packets_received_total", float64(snap.received))
	return err
}

func emitRaw(app collectors.Appender, err *error, name string, v float64, ls ...string) {
	if *err != nil {
		return
	}
	*err = app.Append(labels.FromStrings(append([]string{labels.MetricName, name}, ls...)...), 0, v)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// reasonOf names a dial or read failure.
func reasonOf(ctx context.Context, err error) string {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "resolve"
	case ctx.Err() != nil, errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "connect"
}

func (c *Collector) network(base string) string {
	if c.cfg.IPProtocol == "ip6" {
		return base + "6"
	}
	return base + "4"
}

// resolve returns the target host's address, timing it.
func (c *Collector) resolve(ctx context.Context, host string) (net.IP, time.Duration, error) {
	start := time.Now()
	if ip := net.ParseIP(host); ip != nil {
		return ip, time.Since(start), nil
	}
	ips, err := net.DefaultResolver.LookupIP(ctx, c.network("ip"), host)
	if err != nil {
		return nil, time.Since(start), err
	}
	return ips[0], time.Since(start), nil
}

func (c *Collector) probeTCP(ctx context.Context, addr string) result {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return result{reason: "target", err: fmt.Errorf("want host:port: %w", err)}
	}
	r := result{phases: map[string]float64{}, sent: 1}
	ip, rt, err := c.resolve(ctx, host)
	r.phases["resolve"] = rt.Seconds()
	if err != nil {
		r.reason, r.err = "resolve", err
		return r
	}
	var d net.Dialer
	start := time.Now()
	conn, err := d.DialContext(ctx, c.network("tcp"), net.JoinHostPort(ip.String(), port))
	connect := time.Since(start)
	r.phases["connect"] = connect.Seconds()
	if err != nil {
		r.reason, r.err = reasonOf(ctx, err), err
		return r
	}
	_ = conn.Close()
	r.rtts = []time.Duration{connect}
	r.success = true
	return r
}

func (c *Collector) probeHTTP(ctx context.Context, target string) result {
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	r := result{phases: map[string]float64{"resolve": 0, "connect": 0, "tls": 0, "processing": 0, "transfer": 0}, sent: 1}
	req, err := http.NewRequestWithContext(ctx, c.cfg.HTTP.Method, target, nil)
	if err != nil {
		return result{reason: "target", err: err}
	}
	for k, v := range c.cfg.HTTP.Headers {
		if strings.EqualFold(k, "host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	var mu sync.Mutex
	var dnsStart, connStart, tlsStart, wrote, firstByte time.Time
	add := func(phase string, since time.Time) {
		if !since.IsZero() {
			mu.Lock()
			r.phases[phase] += time.Since(since).Seconds()
			mu.Unlock()
		}
	}
	trace := &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { dnsStart = time.Now() },
		DNSDone:              func(httptrace.DNSDoneInfo) { add("resolve", dnsStart) },
		ConnectStart:         func(string, string) { connStart = time.Now() },
		ConnectDone:          func(string, string, error) { add("connect", connStart) },
		TLSHandshakeStart:    func() { tlsStart = time.Now() },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { add("tls", tlsStart) },
		WroteRequest:         func(httptrace.WroteRequestInfo) { wrote = time.Now() },
		GotFirstResponseByte: func() { firstByte = time.Now(); add("processing", wrote) },
	}
	req = req.WithContext(httptrace.WithClientTrace(ctx, trace))
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: c.cfg.HTTP.InsecureSkipVerify}, //nolint:gosec // configured by the user
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, c.network("tcp"), addr)
		},
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	if c.cfg.HTTP.NoFollowRedirects {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		r.reason, r.err = reasonOf(ctx, err), err
		if strings.Contains(err.Error(), "tls") || strings.Contains(err.Error(), "certificate") {
			r.reason = "tls"
		}
		return r
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	add("transfer", firstByte)
	if !firstByte.IsZero() {
		r.rtts = []time.Duration{firstByte.Sub(start)}
	}
	r.gauges = append(r.gauges,
		gauge{name: "probe_http_status_code", help: "Response HTTP status code", v: float64(resp.StatusCode)},
		gauge{name: "probe_http_content_length", help: "Length of http content response", v: float64(resp.ContentLength)},
		gauge{name: "probe_http_uncompressed_body_length", help: "Length of uncompressed response body", v: float64(n)},
		gauge{name: "probe_http_ssl", help: "Indicates if SSL was used for the final redirect", v: b2f(resp.TLS != nil)},
	)
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		earliest := math.Inf(1)
		for _, cert := range resp.TLS.PeerCertificates {
			earliest = math.Min(earliest, float64(cert.NotAfter.Unix()))
		}
		r.gauges = append(r.gauges, gauge{name: "probe_ssl_earliest_cert_expiry", help: "Returns last SSL chain expiry in unixtime", v: earliest})
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(c.cfg.HTTP.ValidStatusCodes) > 0 {
		ok = false
		for _, code := range c.cfg.HTTP.ValidStatusCodes {
			if code == resp.StatusCode {
				ok = true
			}
		}
	}
	r.success = ok
	if !ok {
		r.reason, r.err = "http_status", fmt.Errorf("status %d", resp.StatusCode)
	}
	return r
}

func (c *Collector) probeDNS(ctx context.Context, server string) result {
	if _, _, err := net.SplitHostPort(server); err != nil {
		server = net.JoinHostPort(server, "53")
	}
	r := result{sent: 1}
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, c.cfg.DNS.Transport, server)
	}}
	network := "ip4"
	if c.cfg.DNS.QueryType == "AAAA" {
		network = "ip6"
	}
	start := time.Now()
	ips, err := res.LookupIP(ctx, network, c.cfg.DNS.QueryName)
	took := time.Since(start)
	r.gauges = append(r.gauges, gauge{name: "probe_dns_lookup_time_seconds", help: "Returns the time taken for probe dns lookup in seconds", v: took.Seconds()})
	if err != nil {
		r.reason, r.err = "dns", err
		if ctx.Err() != nil {
			r.reason = "timeout"
		}
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			// The server answered: an empty answer is not packet loss.
			r.rtts = []time.Duration{took}
		}
		r.gauges = append(r.gauges, gauge{name: "probe_dns_answer_rrs", help: "Returns number of entries in the answer resource record list", v: 0})
		return r
	}
	r.rtts = []time.Duration{took}
	r.gauges = append(r.gauges, gauge{name: "probe_dns_answer_rrs", help: "Returns number of entries in the answer resource record list", v: float64(len(ips))})
	r.success = true
	return r
}

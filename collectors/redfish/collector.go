package redfish

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetwatch/fleetwatch/collectors"
	"github.com/fleetwatch/fleetwatch/collectors/redfish/client"
	"github.com/fleetwatch/fleetwatch/events"
)

// Collector polls BMCs over Redfish. One Collector serves every target of a
// job and keeps a client (with its session) and log cursors per BMC.
type Collector struct {
	cfg     Config
	sink    events.Sink
	logger  *slog.Logger
	metrics *selfMetrics
	global  *client.Limiter
	fams    map[string]family
	now     func() time.Time
	// transport, when set, replaces every BMC's HTTP transport (tests).
	transport http.RoundTripper

	mu     sync.Mutex
	bmcs   map[string]*bmcState
	closed bool
}

var _ collectors.Collector = (*Collector)(nil)

// bmcState is what the collector remembers about one BMC between polls.
type bmcState struct {
	mu     sync.Mutex // one poll at a time
	cl     *client.Client
	root   *serviceRoot
	rootAt time.Time
	logs   map[string]*logCursor
	logsAt time.Time // when the logs were last read
}

// rootMaxAge is how long a service root is trusted before it is read again.
const rootMaxAge = 30 * time.Minute

// New validates cfg and builds a Collector. Log entries go to sink (nil
// drops them), messages to logger, self-metrics to reg. It does no I/O
// but checking that password_file and tls.ca_file can be read.
func New(cfg Config, sink events.Sink, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.PasswordFile != "" {
		if _, err := os.Stat(cfg.PasswordFile); err != nil {
			return nil, fmt.Errorf("redfish config: password_file: %w", err)
		}
	}
	if cfg.TLS.CAFile != "" {
		if _, err := loadCA(cfg.TLS.CAFile); err != nil {
			return nil, fmt.Errorf("redfish config: tls.ca_file: %w", err)
		}
	}
	if sink == nil {
		sink = events.Discard
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newSelfMetrics(reg)
	if err != nil {
		return nil, err
	}
	fams := map[string]family{}
	for _, f := range families() {
		fams[f.name] = f
	}
	global := cfg.MaxConcurrentRequests
	return &Collector{
		cfg: cfg, sink: sink, logger: logger, metrics: m, fams: fams,
		global: client.NewLimiter(global), now: time.Now, bmcs: map[string]*bmcState{},
	}, nil
}

func loadCA(file string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate found", file)
	}
	return pool, nil
}

// state returns the BMC's state, making its client on first use. Targets
// may override the CA, user and password file with the labels __ca_file__,
// __username__ and __password_file__.
func (c *Collector) state(t collectors.Target) (*bmcState, error) {
	key := t.Address + "\x00" + t.Params["__username__"] + "\x00" + t.Params["__ca_file__"]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errors.New("collector closed")
	}
	if s, ok := c.bmcs[key]; ok {
		return s, nil
	}
	cl, err := c.newClient(t.Address, t.Params)
	if err != nil {
		return nil, err
	}
	s := &bmcState{cl: cl, logs: map[string]*logCursor{}}
	c.bmcs[key] = s
	return s, nil
}

func (c *Collector) newClient(addr string, params map[string]string) (*client.Client, error) {
	base := addr
	if !hasScheme(base) {
		base = c.cfg.Scheme + "://" + base
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.cfg.TLS.ServerName, InsecureSkipVerify: c.cfg.TLS.InsecureSkipVerify} //nolint:gosec // explicit opt-in
	caFile := c.cfg.TLS.CAFile
	if f := params["__ca_file__"]; f != "" {
		caFile = f
		tlsCfg.InsecureSkipVerify = false
	}
	if caFile != "" {
		pool, err := loadCA(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls ca_file: %w", err)
		}
		tlsCfg.RootCAs = pool
	}
	user := c.cfg.Username
	if u := params["__username__"]; u != "" {
		user = u
	}
	return client.New(client.Options{
		BaseURL:        base,
		Username:       user,
		Password:       c.cfg.passwordFunc(params["__password_file__"]),
		Auth:           c.cfg.Auth,
		TLS:            tlsCfg,
		Transport:      c.transport,
		RequestTimeout: time.Duration(c.cfg.RequestTimeout),
		MaxConcurrent:  c.cfg.MaxConcurrentRequestsPerBMC,
		Global:         c.global,
		Retries:        c.cfg.Retries,
		Observe:        c.metrics.observe,
		OnLogin:        func(e string) { c.metrics.auth.WithLabelValues(e).Inc() },
	})
}

func hasScheme(s string) bool {
	for i := 0; i < len(s) && i < 8; i++ {
		if s[i] == ':' {
			return i+2 < len(s) && s[i+1] == '/' && s[i+2] == '/'
		}
	}
	return false
}

// Collect polls one BMC. It fails (the target is down) when the service
// root cannot be read or neither systems nor chassis can; a resource that
// fails below them is logged, counted in redfish_poll_resource_errors and
// skipped.
func (c *Collector) Collect(ctx context.Context, t collectors.Target, app collectors.Appender) error {
	st, err := c.state(t)
	if err != nil {
		return fmt.Errorf("BMC %q: %w", t.Address, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if d := time.Duration(c.cfg.PollTimeout); d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	start := c.now()
	defer func() { c.metrics.pollSeconds.Observe(time.Since(start).Seconds()) }()
	if !c.cfg.KeepAlive {
		defer st.cl.CloseIdle()
	}
	p := newPoll(c, st, t)
	if err := p.run(ctx); err != nil {
		if p.logs {
			st.logsAt = time.Time{} // read the logs at the next poll that works
		}
		return fmt.Errorf("BMC %q: %w", t.Address, err)
	}
	return p.flush(app)
}

// Close logs out of every BMC session, within ctx. It is safe to call more
// than once and after a partial setup.
func (c *Collector) Close(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	states := make([]*bmcState, 0, len(c.bmcs))
	for _, s := range c.bmcs {
		states = append(states, s)
	}
	c.bmcs = map[string]*bmcState{}
	c.mu.Unlock()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	sem := make(chan struct{}, 64)
	for _, s := range states {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := s.cl.Logout(ctx); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("BMC %q: %w", s.cl.Base(), err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Forget drops the state of BMCs no longer among addrs (after a reload),
// logging out of their sessions.
func (c *Collector) Forget(ctx context.Context, keep []collectors.Target) {
	want := map[string]bool{}
	for _, t := range keep {
		want[t.Address+"\x00"+t.Params["__username__"]+"\x00"+t.Params["__ca_file__"]] = true
	}
	c.mu.Lock()
	var gone []*bmcState
	for k, s := range c.bmcs {
		if !want[k] {
			gone = append(gone, s)
			delete(c.bmcs, k)
		}
	}
	c.mu.Unlock()
	for _, s := range gone {
		if err := s.cl.Logout(ctx); err != nil {
			c.logger.Debug("logout of a removed BMC failed", "bmc", s.cl.Base(), "err", err)
		}
	}
}

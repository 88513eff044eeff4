package scrape

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"

	"github.com/fleetwatch/fleetwatch/collectors"
)

// AcceptHeader is the Accept header of every request: the one Prometheus 3
// sends by default, OpenMetrics preferred over the text format, UTF-8 names
// allowed, anything else last.
const AcceptHeader = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6," +
	"application/openmetrics-text;version=0.0.1;q=0.5," +
	"text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4," +
	"text/plain;version=0.0.4;q=0.3," +
	"*/*;q=0.2"

// userAgent identifies fleetwatch to the exporter.
const userAgent = "fleetwatch-scrape/1"

// Target parameters that override the job's config for one target, with the
// names Prometheus gives them as target labels.
const (
	ParamMetricsPath = "__metrics_path__"
	ParamScheme      = "__scheme__"
	ParamPrefix      = "__param_" // __param_<name>=<value> sets one URL parameter
)

// Collector scrapes exporters. One Collector serves every target of a job; it
// is safe for concurrent use.
type Collector struct {
	cfg     Config
	popts   parseOptions
	client  *http.Client
	logger  *slog.Logger
	metrics *metrics
	accept  string
	encode  string
	states  sync.Pool // *state
}

var _ collectors.Collector = (*Collector)(nil)

// state is what one collection needs, reused from one collection to the next.
type state struct {
	body  errReader
	buf   bytes.Buffer
	br    *bufio.Reader
	gzipr *gzip.Reader
	p     *parser
}

// New validates cfg and returns a Collector. Its counters are registered on
// reg (several Collectors may share one reg); reg may be nil in tests.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	hc := commoncfg.HTTPClientConfig{
		BearerTokenFile: cfg.BearerTokenFile,
		TLSConfig: commoncfg.TLSConfig{
			CAFile:             cfg.TLSConfig.CAFile,
			CertFile:           cfg.TLSConfig.CertFile,
			KeyFile:            cfg.TLSConfig.KeyFile,
			ServerName:         cfg.TLSConfig.ServerName,
			InsecureSkipVerify: cfg.TLSConfig.InsecureSkipVerify,
		},
		FollowRedirects: true,
		EnableHTTP2:     true,
	}
	if cfg.BasicAuth != nil {
		hc.BasicAuth = &commoncfg.BasicAuth{Username: cfg.BasicAuth.Username, PasswordFile: cfg.BasicAuth.PasswordFile}
	}
	client, err := commoncfg.NewClientFromConfig(hc, "fleetwatch_scrape", commoncfg.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("scrape config: http client: %w", err)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("scrape: register metrics: %w", err)
	}
	c := &Collector{
		cfg:     cfg,
		popts:   newParseOptions(&cfg),
		client:  client,
		logger:  logger.With("collector", "scrape"),
		metrics: m,
		accept:  AcceptHeader,
		encode:  "identity",
	}
	if cfg.EnableCompression {
		c.encode = "gzip"
	}
	c.states.New = func() any { return &state{p: newParser()} }
	return c, nil
}

// URL returns the URL Collect fetches for t: the job's scheme, metrics_path and
// params, overridden by t.Params (__scheme__, __metrics_path__,
// __param_<name>), on t.Address (host:port).
func (c *Collector) URL(t collectors.Target) (*url.URL, error) {
	if t.Address == "" {
		return nil, errors.New("empty address")
	}
	if strings.ContainsAny(t.Address, "/?#@") {
		return nil, fmt.Errorf("address %q must be host:port (no scheme, path or user)", t.Address)
	}
	scheme, path := c.cfg.Scheme, c.cfg.MetricsPath
	if v, ok := t.Params[ParamScheme]; ok {
		if v != "http" && v != "https" {
			return nil, fmt.Errorf("%s %q must be http or https", ParamScheme, v)
		}
		scheme = v
	}
	if v, ok := t.Params[ParamMetricsPath]; ok {
		if !strings.HasPrefix(v, "/") {
			return nil, fmt.Errorf("%s %q must start with /", ParamMetricsPath, v)
		}
		path = v
	}
	q := url.Values{}
	for k, v := range c.cfg.Params {
		q[k] = append([]string(nil), v...)
	}
	for k, v := range t.Params {
		if name, ok := strings.CutPrefix(k, ParamPrefix); ok && name != "" {
			q.Set(name, v)
		}
	}
	return &url.URL{Scheme: scheme, Host: t.Address, Path: path, RawQuery: q.Encode()}, nil
}

// Collect fetches t's metrics and appends every sample to app. The error, if
// any, names the target's URL and the problem; it wraps ErrHTTPStatus,
// ErrBodySizeLimit, ErrContentType, ErrParse, ErrSampleLimit, ErrLabelLimit or
// the transport's error.
func (c *Collector) Collect(ctx context.Context, t collectors.Target, app collectors.Appender) error {
	u, err := c.URL(t)
	if err != nil {
		c.metrics.errors.WithLabelValues(t.Job, reasonTargetConfig).Inc()
		return fmt.Errorf("target %q: %w", t.Address, err)
	}
	target := u.String()
	st := c.states.Get().(*state)
	defer c.states.Put(st)

	contentType, reason, err := c.fetch(ctx, target, st)
	c.metrics.bytes.WithLabelValues(t.Job).Add(float64(st.buf.Len()))
	if err != nil {
		c.metrics.errors.WithLabelValues(t.Job, reason).Inc()
		return fmt.Errorf("target %q: %w", target, err)
	}
	res, err := st.p.appendExposition(st.buf.Bytes(), contentType, &c.popts, app)
	c.metrics.samples.WithLabelValues(t.Job).Add(float64(res.samples))
	if res.duplicates > 0 {
		c.metrics.duplicates.WithLabelValues(t.Job).Add(float64(res.duplicates))
		c.logger.Warn("duplicate samples dropped", "target", target, "job", t.Job, "count", res.duplicates)
	}
	if res.skipped > 0 {
		c.logger.Debug("native histogram samples skipped", "target", target, "job", t.Job, "count", res.skipped)
	}
	if err != nil {
		c.metrics.errors.WithLabelValues(t.Job, parseReason(err)).Inc()
		return fmt.Errorf("target %q: %w", target, err)
	}
	return nil
}

func parseReason(err error) string {
	switch {
	case errors.Is(err, ErrContentType):
		return reasonContentType
	case errors.Is(err, ErrSampleLimit):
		return reasonSampleLimit
	case errors.Is(err, ErrLabelLimit):
		return reasonLabelLimit
	default:
		return reasonParse
	}
}

// fetch GETs target into st.buf and returns the response's Content-Type, or
// the reason and error of a failure.
func (c *Collector) fetch(ctx context.Context, target string, st *state) (contentType, reason string, err error) {
	st.buf.Reset()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
	if err != nil {
		return "", reasonTargetConfig, err
	}
	req.Header.Set("Accept", c.accept)
	req.Header.Set("Accept-Encoding", c.encode)
	if deadline, ok := ctx.Deadline(); ok {
		secs := time.Until(deadline).Seconds()
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(max(secs, 0), 'f', -1, 64))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return "", transportReason(ctx, err), err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		return "", reasonHTTPStatus, fmt.Errorf("%w %s", ErrHTTPStatus, resp.Status)
	}

	st.body = errReader{r: resp.Body}
	defer func() { st.body = errReader{} }() // keep no response in the pool
	var body io.Reader = &st.body
	gzipped := false
	switch enc := resp.Header.Get("Content-Encoding"); enc {
	case "", "identity":
	case "gzip":
		gzipped = true
		if st.br == nil {
			st.br = bufio.NewReader(&st.body)
		} else {
			st.br.Reset(&st.body)
		}
		if st.gzipr == nil {
			st.gzipr, err = gzip.NewReader(st.br)
		} else {
			err = st.gzipr.Reset(st.br)
		}
		if err != nil {
			return "", readReason(ctx, err, st.body.err), fmt.Errorf("gzip body: %w", err)
		}
		defer st.gzipr.Close()
		body = st.gzipr
	default:
		return "", reasonDecompress, fmt.Errorf("unsupported Content-Encoding %q", enc)
	}

	if n := resp.ContentLength; n > 0 && resp.Header.Get("Content-Encoding") == "" {
		st.buf.Grow(int(min(n, int64(c.limit())) + 1))
	}
	limit := c.limit()
	n, err := st.buf.ReadFrom(io.LimitReader(body, limit+1))
	if err != nil {
		if gzipped && st.body.err == nil {
			return "", readReason(ctx, err, nil), fmt.Errorf("gzip body after %d bytes: %w", n, err)
		}
		return "", readReason(ctx, err, st.body.err), fmt.Errorf("read body after %d bytes: %w", n, err)
	}
	if n > limit {
		st.buf.Truncate(int(limit))
		return "", reasonBodySize, fmt.Errorf("%w: body is larger than %d bytes", ErrBodySizeLimit, limit)
	}
	return resp.Header.Get("Content-Type"), "", nil
}

// limit is the largest body read, in bytes.
func (c *Collector) limit() int64 {
	if c.cfg.BodySizeLimit > 0 {
		return int64(c.cfg.BodySizeLimit)
	}
	return 1<<63 - 2
}

func transportReason(ctx context.Context, err error) string {
	var ne net.Error
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return reasonTimeout
	}
	return reasonRequest
}

// readReason classifies an error reading the body: transportErr is what the
// connection itself reported (nil: the bytes arrived, so a failure is the
// gzip stream's).
func readReason(ctx context.Context, err, transportErr error) string {
	if r := transportReason(ctx, err); r == reasonTimeout {
		return r
	}
	if transportErr != nil {
		return reasonRequest
	}
	return reasonDecompress
}

// errReader remembers the first error other than io.EOF its reader returned.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

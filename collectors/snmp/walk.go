package snmp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gosnmp/gosnmp"
)

// Kinds of poll errors, the values of the kind label of the error metrics.
const (
	KindTimeout       = "timeout"        // no answer within timeout × (retries+1)
	KindDeadline      = "deadline"       // the device's deadline passed
	KindRefused       = "refused"        // ICMP port unreachable: nothing listens
	KindAuth          = "auth"           // v3: wrong password, unknown user, decryption
	KindNotIncreasing = "not_increasing" // the agent's walk went backwards
	KindTooBig        = "too_big"        // tooBig even with max_repetitions 1
	KindDecode        = "decode"         // malformed or truncated responses
	KindAgentError    = "agent_error"    // an error-status other than tooBig
	KindOther         = "other"
)

// ErrorKinds lists every kind, in the order they are exposed.
var ErrorKinds = []string{KindTimeout, KindDeadline, KindRefused, KindAuth, KindNotIncreasing, KindTooBig, KindDecode, KindAgentError, KindOther}

// WalkError is the failure of one subtree or GET of a poll.
type WalkError struct {
	OID  string // the subtree or OID asked for
	Kind string
	Err  error
}

func (e *WalkError) Error() string { return fmt.Sprintf("%s %s: %v", e.OID, e.Kind, e.Err) }
func (e *WalkError) Unwrap() error { return e.Err }

// pollOptions are the knobs of one poll.
type pollOptions struct {
	timeout            time.Duration
	retries            int
	maxRepetitions     uint32
	allowNonIncreasing bool
	unconnected        bool
}

// pollStats count what one poll did.
type pollStats struct {
	requests int // requests issued (each may be sent several times)
	sent     int // packets sent, retries and v3 discovery included
	tooBig   int // requests asked again with fewer repetitions
	errors   []*WalkError
}

func (s *pollStats) retries() int { return max(0, s.sent-s.requests) }

// session is one device's connection for one poll.
type session struct {
	g       *gosnmp.GoSNMP
	opts    pollOptions
	stats   *pollStats
	reps    uint32
	answers int // responses received so far
}

// newSession opens a UDP socket to addr (host or host:port, default port
// 161) configured with cr.
func newSession(ctx context.Context, addr string, cr credentials, o pollOptions, st *pollStats) (*session, error) {
	host, port, err := splitHostPort(addr)
	if err != nil {
		return nil, err
	}
	g := &gosnmp.GoSNMP{
		Target:                  host,
		Port:                    port,
		Transport:               "udp",
		Context:                 ctx,
		Timeout:                 o.timeout,
		Retries:                 o.retries,
		MaxOids:                 int(o.maxRepetitions),
		MaxRepetitions:          o.maxRepetitions,
		UseUnconnectedUDPSocket: o.unconnected,
	}
	cr.apply(g)
	s := &session{g: g, opts: o, stats: st, reps: o.maxRepetitions}
	g.OnSent = func(*gosnmp.GoSNMP) { st.sent++ }
	g.OnRecv = func(*gosnmp.GoSNMP) { s.answers++ }
	if err := g.Connect(); err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return s, nil
}

func (s *session) close() {
	if s.g.Conn != nil {
		_ = s.g.Conn.Close()
	}
}

// splitHostPort reads host[:port]; the port defaults to 161.
func splitHostPort(addr string) (string, uint16, error) {
	addr = strings.TrimPrefix(addr, "udp://")
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		// No port (or a bare IPv6 address).
		if strings.Count(addr, ":") != 1 {
			return strings.Trim(addr, "[]"), 161, nil
		}
		return "", 0, fmt.Errorf("address %q: %w", addr, err)
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("address %q: bad port %q", addr, p)
	}
	return host, uint16(n), nil
}

// classify names the kind of a gosnmp error.
func classify(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return KindDeadline
	case errors.Is(err, syscall.ECONNREFUSED):
		return KindRefused
	case errors.Is(err, gosnmp.ErrWrongDigest), errors.Is(err, gosnmp.ErrUnknownUsername),
		errors.Is(err, gosnmp.ErrDecryption), errors.Is(err, gosnmp.ErrUnknownSecurityLevel),
		errors.Is(err, gosnmp.ErrUnknownEngineID), errors.Is(err, gosnmp.ErrNotInTimeWindow),
		errors.Is(err, gosnmp.ErrUnknownSecurityModels):
		return KindAuth
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, gosnmp.ErrMaxRetriesExceeded):
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "timeout"):
		return KindTimeout
	case strings.Contains(msg, "connection refused"):
		return KindRefused
	case strings.Contains(msg, "authentic") || strings.Contains(msg, "decrypt"):
		return KindAuth
	}
	return KindDecode
}

func (s *session) fail(oid, kind string, err error) *WalkError {
	we := &WalkError{OID: oid, Kind: kind, Err: err}
	s.stats.errors = append(s.stats.errors, we)
	return we
}

// request sends one GET/GETNEXT/GETBULK.
func (s *session) request(kind gosnmp.PDUType, oids []string, reps uint32) (*gosnmp.SnmpPacket, error) {
	s.stats.requests++
	switch kind {
	case gosnmp.GetBulkRequest:
		return s.g.GetBulk(oids, 0, reps)
	case gosnmp.GetNextRequest:
		return s.g.GetNext(oids)
	default:
		return s.g.Get(oids)
	}
}

// walk reads the subtree under root (no leading dot), appending to out.
// On failure it returns what it read before, with the error.
func (s *session) walk(root string, out []gosnmp.SnmpPDU) ([]gosnmp.SnmpPDU, *WalkError) {
	ctx := s.g.Context
	dotted := "." + root
	cursor := root
	first := true
	repeats := 0
	for {
		if err := ctx.Err(); err != nil {
			return out, s.fail(root, KindDeadline, err)
		}
		var resp *gosnmp.SnmpPacket
		var err error
		if s.g.Version == gosnmp.Version1 {
			resp, err = s.request(gosnmp.GetNextRequest, []string{"." + cursor}, 0)
		} else {
			resp, err = s.request(gosnmp.GetBulkRequest, []string{"." + cursor}, s.reps)
		}
		if err != nil {
			kind := classify(ctx, err)
			if kind == KindDecode && s.reps > 1 {
				// A truncated response is often one too big for the path.
				s.reps /= 2
				s.stats.tooBig++
				continue
			}
			return out, s.fail(root, kind, err)
		}
		switch resp.Error {
		case gosnmp.NoError:
		case gosnmp.TooBig:
			if s.reps > 1 && s.g.Version != gosnmp.Version1 {
				s.reps /= 2
				s.stats.tooBig++
				continue
			}
			return out, s.fail(root, KindTooBig, errors.New("agent answered tooBig"))
		case gosnmp.NoSuchName:
			if s.g.Version == gosnmp.Version1 {
				return out, nil // v1's end of the MIB view
			}
			fallthrough
		default:
			return out, s.fail(root, KindAgentError, fmt.Errorf("agent answered error-status %s (index %d)", resp.Error, resp.ErrorIndex))
		}
		if len(resp.Variables) == 0 {
			return out, nil
		}
		for i, v := range resp.Variables {
			if v.Type == gosnmp.EndOfMibView || v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance {
				return out, nil
			}
			name := strings.TrimPrefix(v.Name, ".")
			if !under(name, root) {
				if first && i == 0 {
					// The root may be a leaf: ask for it directly.
					return s.getLeaf(dotted, out)
				}
				return out, nil
			}
			if oidCompare(name, cursor) <= 0 {
				if !s.opts.allowNonIncreasing {
					return out, s.fail(root, KindNotIncreasing, fmt.Errorf("OID not increasing: %s after %s", name, cursor))
				}
				if repeats++; repeats > 1000 {
					return out, s.fail(root, KindNotIncreasing, fmt.Errorf("walk loops: %s after %s", name, cursor))
				}
			}
			out = append(out, v)
			cursor = name
		}
		first = false
	}
}

func (s *session) getLeaf(oid string, out []gosnmp.SnmpPDU) ([]gosnmp.SnmpPDU, *WalkError) {
	resp, err := s.request(gosnmp.GetRequest, []string{oid}, 0)
	if err != nil {
		return out, s.fail(oid[1:], classify(s.g.Context, err), err)
	}
	for _, v := range resp.Variables {
		if v.Type != gosnmp.NoSuchObject && v.Type != gosnmp.NoSuchInstance && v.Type != gosnmp.EndOfMibView && v.Type != gosnmp.Null {
			out = append(out, v)
		}
	}
	return out, nil
}

// get fetches oids (no leading dot) in batches, appending what exists.
func (s *session) get(oids []string, out []gosnmp.SnmpPDU) ([]gosnmp.SnmpPDU, *WalkError) {
	batch := int(s.opts.maxRepetitions)
	if s.g.Version == gosnmp.Version1 || batch < 1 {
		batch = 1
	}
	var firstErr *WalkError
	for len(oids) > 0 {
		n := min(batch, len(oids))
		req := make([]string, n)
		for i, o := range oids[:n] {
			req[i] = "." + o
		}
		resp, err := s.request(gosnmp.GetRequest, req, 0)
		if err != nil {
			kind := classify(s.g.Context, err)
			if kind == KindDecode && batch > 1 {
				batch /= 2
				continue
			}
			return out, s.fail(oids[0], kind, err)
		}
		switch {
		case resp.Error == gosnmp.NoSuchName && s.g.Version == gosnmp.Version1:
			// v1 reports a missing OID as an error: skip it.
		case resp.Error == gosnmp.TooBig && batch > 1:
			batch /= 2
			s.stats.tooBig++
			continue
		case resp.Error != gosnmp.NoError:
			if firstErr == nil {
				firstErr = s.fail(oids[0], KindAgentError, fmt.Errorf("agent answered error-status %s", resp.Error))
			}
		default:
			for _, v := range resp.Variables {
				if v.Type == gosnmp.NoSuchObject || v.Type == gosnmp.NoSuchInstance || v.Type == gosnmp.EndOfMibView {
					continue
				}
				out = append(out, v)
			}
		}
		oids = oids[n:]
	}
	return out, firstErr
}

// plan is what one poll asks for: GETs and subtrees, overlapping subtrees
// merged.
type plan struct {
	get  []string
	walk []string
}

func (p *plan) addWalk(oids ...string) {
next:
	for _, o := range oids {
		for i, w := range p.walk {
			if w == o || under(o, w) {
				continue next
			}
			if under(w, o) {
				p.walk[i] = o
				continue next
			}
		}
		p.walk = append(p.walk, o)
	}
}

func (p *plan) addGet(oids ...string) {
next:
	for _, o := range oids {
		for _, g := range p.get {
			if g == o {
				continue next
			}
		}
		p.get = append(p.get, o)
	}
}

// pollResult is what one device answered.
type pollResult struct {
	pdus     []gosnmp.SnmpPDU
	stats    pollStats
	duration time.Duration
	// fatal is set when the device gave nothing usable at all.
	fatal error
}

// poll runs a plan against one device. One subtree failing keeps the
// others; a device that never answers costs one request's timeouts only.
func poll(ctx context.Context, addr string, cr credentials, o pollOptions, p plan) *pollResult {
	start := time.Now()
	res := &pollResult{}
	defer func() { res.duration = time.Since(start) }()
	s, err := newSession(ctx, addr, cr, o, &res.stats)
	if err != nil {
		res.fatal = err
		return res
	}
	defer s.close()
	var werr *WalkError
	pdus := make([]gosnmp.SnmpPDU, 0, 256)
	consecutiveTimeouts := 0
	stopped := func(we *WalkError) bool {
		if we == nil {
			consecutiveTimeouts = 0
			return false
		}
		switch we.Kind {
		case KindDeadline, KindRefused, KindAuth:
			return true
		case KindTimeout:
			consecutiveTimeouts++
			// Dead (never answered) or gone quiet twice in a row: stop.
			return s.answers == 0 || consecutiveTimeouts >= 2
		}
		return false
	}
	done := false
	if len(p.get) > 0 {
		pdus, werr = s.get(p.get, pdus)
		done = stopped(werr)
	}
	for _, root := range p.walk {
		if done {
			// The error that stopped the poll is recorded once; the
			// subtrees after it are simply not walked.
			break
		}
		pdus, werr = s.walk(root, pdus)
		done = stopped(werr)
	}
	res.pdus = pdus
	if len(pdus) == 0 && len(res.stats.errors) > 0 {
		res.fatal = res.stats.errors[0]
	}
	return res
}

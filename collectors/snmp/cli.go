package snmp

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gosnmp/gosnmp"
)

// Walk walks each OID subtree on target (host[:port]) with the credentials
// and timeouts of cfg (cfg.Auth names the auth) and writes one line per
// varbind to w, as `snmpbulkwalk -On` does: `.OID = TYPE: value`. It is
// `fleetwatch snmp walk`. A failing subtree is reported and the next one is
// still walked; the error returned names the subtrees that failed.
func Walk(ctx context.Context, cfg Config, target string, oids []string, w io.Writer) error {
	return cliRun(ctx, cfg, target, oids, w, true)
}

// Get fetches the OIDs on target and writes them to w like Walk. It is
// `fleetwatch snmp get`.
func Get(ctx context.Context, cfg Config, target string, oids []string, w io.Writer) error {
	return cliRun(ctx, cfg, target, oids, w, false)
}

func cliRun(ctx context.Context, cfg Config, target string, oids []string, w io.Writer, walk bool) error {
	if len(oids) == 0 {
		return fmt.Errorf("no OID given")
	}
	norm := make([]string, len(oids))
	for i, o := range oids {
		if _, err := parseOID(o); err != nil {
			return err
		}
		norm[i] = strings.TrimPrefix(o, ".")
	}
	c, err := New(cfg, nil, nil)
	if err != nil {
		return err
	}
	cr := c.creds[cfg.Auth]
	dctx, cancel := c.deviceContext(ctx)
	defer cancel()
	var st pollStats
	s, err := newSession(dctx, target, cr, c.options(), &st)
	if err != nil {
		return fmt.Errorf("target %q: %w", target, err)
	}
	defer s.close()
	var failed []string
	for _, o := range norm {
		var pdus []gosnmp.SnmpPDU
		var werr *WalkError
		if walk {
			pdus, werr = s.walk(o, nil)
		} else {
			pdus, werr = s.get([]string{o}, nil)
			if len(pdus) == 0 && werr == nil {
				fmt.Fprintf(w, ".%s = No Such Instance currently exists at this OID\n", o)
			}
		}
		for i := range pdus {
			fmt.Fprintln(w, FormatVarbind(&pdus[i]))
		}
		if werr != nil {
			failed = append(failed, werr.Error())
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("target %q: %s", target, strings.Join(failed, "; "))
	}
	return nil
}

// FormatVarbind renders a varbind as net-snmp's tools do with -On.
func FormatVarbind(p *gosnmp.SnmpPDU) string {
	name := p.Name
	if !strings.HasPrefix(name, ".") {
		name = "." + name
	}
	var typ, val string
	switch p.Type {
	case gosnmp.Integer:
		typ, val = "INTEGER", fmt.Sprint(p.Value)
	case gosnmp.OctetString:
		b, _ := p.Value.([]byte)
		typ = "STRING"
		val = fmt.Sprintf("%q", b)
		for _, c := range b {
			if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c > 0x7e {
				typ = "Hex-STRING"
				val = strings.TrimPrefix(hexString(b), "0x")
				break
			}
		}
	case gosnmp.ObjectIdentifier:
		typ, val = "OID", fmt.Sprint(p.Value)
	case gosnmp.IPAddress:
		typ, val = "IpAddress", fmt.Sprint(p.Value)
	case gosnmp.Counter32:
		typ, val = "Counter32", fmt.Sprint(p.Value)
	case gosnmp.Gauge32:
		typ, val = "Gauge32", fmt.Sprint(p.Value)
	case gosnmp.TimeTicks:
		typ, val = "Timeticks", fmt.Sprintf("(%v)", p.Value)
	case gosnmp.Counter64:
		typ, val = "Counter64", fmt.Sprint(p.Value)
	case gosnmp.OpaqueFloat, gosnmp.OpaqueDouble:
		typ, val = "Opaque: Float", fmt.Sprint(p.Value)
	case gosnmp.Null:
		return name + " = NULL"
	default:
		typ, val = p.Type.String(), fmt.Sprint(p.Value)
	}
	return name + " = " + typ + ": " + val
}

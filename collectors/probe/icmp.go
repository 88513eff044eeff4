package probe

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// listenICMP opens an unprivileged ping socket where the kernel allows it
// (net.ipv4.ping_group_range), a raw socket otherwise (root or
// CAP_NET_RAW). privileged says which one it got.
func listenICMP(ip6 bool) (conn *icmp.PacketConn, privileged bool, err error) {
	udp, raw, addr := "udp4", "ip4:icmp", "0.0.0.0"
	if ip6 {
		udp, raw, addr = "udp6", "ip6:ipv6-icmp", "::"
	}
	if conn, err = icmp.ListenPacket(udp, addr); err == nil {
		return conn, false, nil
	}
	conn, rerr := icmp.ListenPacket(raw, addr)
	if rerr != nil {
		return nil, false, fmt.Errorf("no ICMP socket: unprivileged: %v; raw: %w", err, rerr)
	}
	return conn, true, nil
}

// probeICMP sends cfg.ICMP.Count echo requests and counts the replies.
func (c *Collector) probeICMP(ctx context.Context, host string) result {
	r := result{phases: map[string]float64{}}
	ip, rt, err := c.resolve(ctx, host)
	r.phases["resolve"] = rt.Seconds()
	if err != nil {
		r.reason, r.err = "resolve", err
		return r
	}
	ip6 := ip.To4() == nil
	setup := time.Now()
	conn, privileged, err := listenICMP(ip6)
	r.phases["setup"] = time.Since(setup).Seconds()
	if err != nil {
		r.reason, r.err = "icmp", err
		return r
	}
	defer conn.Close()
	var dst net.Addr = &net.UDPAddr{IP: ip}
	if privileged {
		dst = &net.IPAddr{IP: ip}
	}
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	proto := 1
	if ip6 {
		reqType, replyType, proto = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply, 58
	}
	// Unprivileged sockets get their ID from the kernel; raw ones use ours.
	id := int(rand.Uint32N(0xffff)) ^ os.Getpid()&0xffff
	payload := make([]byte, c.cfg.ICMP.PayloadSize)
	buf := make([]byte, 1500+len(payload))
	var rttSum time.Duration
	for seq := 1; seq <= c.cfg.ICMP.Count; seq++ {
		if seq > 1 {
			select {
			case <-ctx.Done():
			case <-time.After(c.cfg.ICMP.Interval):
			}
		}
		if ctx.Err() != nil {
			break
		}
		msg := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id & 0xffff, Seq: seq, Data: payload}}
		wb, err := msg.Marshal(nil)
		if err != nil {
			r.reason, r.err = "icmp", err
			return r
		}
		sent := time.Now()
		if _, err := conn.WriteTo(wb, dst); err != nil {
			r.reason, r.err = "icmp", err
			return r
		}
		r.sent++
		deadline := sent.Add(time.Second)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		_ = conn.SetReadDeadline(deadline)
		for {
			n, peer, err := conn.ReadFrom(buf)
			if err != nil {
				break // timeout: this request is lost
			}
			rm, err := icmp.ParseMessage(proto, buf[:n])
			if err != nil || rm.Type != replyType {
				continue
			}
			echo, ok := rm.Body.(*icmp.Echo)
			if !ok || echo.Seq != seq || (privileged && echo.ID != id&0xffff) || !sameIP(peer, ip) {
				continue
			}
			rtt := time.Since(sent)
			r.rtts = append(r.rtts, rtt)
			rttSum += rtt
			break
		}
	}
	if len(r.rtts) > 0 {
		r.phases["rtt"] = (rttSum / time.Duration(len(r.rtts))).Seconds()
		r.success = true
	} else {
		r.reason, r.err = "icmp", errors.New("no echo reply")
		if ctx.Err() != nil {
			r.reason = "timeout"
		}
	}
	r.gauges = append(r.gauges,
		gauge{name: "probe_icmp_packets_sent", help: "Echo requests sent by this probe", v: float64(r.sent)},
		gauge{name: "probe_icmp_packets_received", help: "Echo replies received by this probe", v: float64(len(r.rtts))},
	)
	return r
}

func sameIP(a net.Addr, ip net.IP) bool {
	switch x := a.(type) {
	case *net.UDPAddr:
		return x.IP.Equal(ip)
	case *net.IPAddr:
		return x.IP.Equal(ip)
	}
	return false
}

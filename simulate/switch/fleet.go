package switchsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
)

// Options configure a fleet of simulated switches.
type Options struct {
	// Switches lists the switches to run. When empty, Count switches named
	// sw-0001, sw-0002, … replay Recording.
	Switches []SwitchOptions
	Count    int
	// Recording is replayed by switches that name none of their own.
	Recording *Recording
	// Host is the address listened on. Default 127.0.0.1.
	Host string
	// BasePort is the first UDP port; switch i listens on BasePort+i.
	// 0 (the default) lets the system pick free ports.
	BasePort int
	// Community the switches answer to (v1 and v2c). Default public. A
	// request with another community gets no answer, as on a real agent.
	Community string
	// TrapTarget is the host:port linkDown/linkUp traps are sent to when a
	// link changes; empty sends none.
	TrapTarget string
	Logger     *slog.Logger
}

// SwitchOptions configure one simulated switch.
type SwitchOptions struct {
	// Name is the switch's sysName (and how Fleet.Switch finds it).
	Name string
	// Recording overrides Options.Recording for this switch.
	Recording *Recording
	// Neighbors replace the recording's LLDP tables when not nil, so that
	// the switch reports the simulated servers on its ports.
	Neighbors []Neighbor
}

// Fleet is a set of running simulated switches.
type Fleet struct {
	Switches []*Switch
	byName   map[string]*Switch
	wg       sync.WaitGroup
}

// Switch returns the switch named name, or nil.
func (f *Fleet) Switch(name string) *Switch { return f.byName[name] }

// Wait blocks until every switch has stopped (after ctx of Serve ended).
func (f *Fleet) Wait() { f.wg.Wait() }

// Serve starts the switches on loopback UDP ports and returns once they
// answer. They stop when ctx is cancelled.
func Serve(ctx context.Context, o Options) (*Fleet, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Community == "" {
		o.Community = "public"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	specs := o.Switches
	if len(specs) == 0 {
		for i := range o.Count {
			specs = append(specs, SwitchOptions{Name: fmt.Sprintf("sw-%04d", i+1)})
		}
	}
	if len(specs) == 0 {
		return nil, errors.New("switchsim: no switches (set Switches or Count)")
	}
	f := &Fleet{byName: map[string]*Switch{}}
	var conns []*net.UDPConn
	fail := func(err error) (*Fleet, error) {
		for _, c := range conns {
			_ = c.Close()
		}
		return nil, err
	}
	for i, sp := range specs {
		rec := sp.Recording
		if rec == nil {
			rec = o.Recording
		}
		if rec == nil {
			return fail(fmt.Errorf("switchsim: switch %q: no recording", sp.Name))
		}
		if _, dup := f.byName[sp.Name]; dup || sp.Name == "" {
			return fail(fmt.Errorf("switchsim: switch %d: name %q empty or used twice", i, sp.Name))
		}
		port := 0
		if o.BasePort > 0 {
			port = o.BasePort + i
		}
		addr, err := net.ResolveUDPAddr("udp", net.JoinHostPort(o.Host, strconv.Itoa(port)))
		if err != nil {
			return fail(fmt.Errorf("switchsim: switch %q: %w", sp.Name, err))
		}
		conn, err := net.ListenUDP("udp", addr)
		if err != nil {
			return fail(fmt.Errorf("switchsim: switch %q: %w", sp.Name, err))
		}
		conns = append(conns, conn)
		s := newSwitch(sp.Name, rec, o.Community, o.TrapTarget, sp.Neighbors, conn, o.Logger)
		f.Switches = append(f.Switches, s)
		f.byName[sp.Name] = s
	}
	for _, s := range f.Switches {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			s.serve()
		}()
	}
	go func() {
		<-ctx.Done()
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	return f, nil
}

// Package switchsim runs simulated network switches for demos, tests and
// load: in-process SNMP v1/v2c agents on loopback UDP ports (gosnmp's packet
// encoding) that replay snmpsim recordings (.snmprec). Unlike a static
// replay, interface counters move with time, sysUpTime runs, links can be
// taken down and up (ifOperStatus follows, and linkDown/linkUp traps go to a
// configured address), and each switch can report LLDP neighbours that
// match the simulated servers in its rack.
//
// One recording is loaded once and shared read-only by every switch that
// replays it, so a thousand switches cost little memory.
//
// What it must not do: listen on anything but the address it is given
// (loopback by default), simulate SNMPv3 or SET, import fleetwatch's
// collectors, or keep package-level state.
package switchsim

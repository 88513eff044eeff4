package events

import (
	"context"
	"time"
)

// Severity of an event, as PagerDuty and the Redfish log name them.
type Severity string

// The severities.
const (
	Critical Severity = "critical"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Well-known event sources.
const (
	SourceSNMPTrap   = "snmp_trap"
	SourceRedfishLog = "redfish_log"
	SourceAPI        = "api"
	SourceLifecycle  = "lifecycle"
	SourceConfig     = "config"
)

// Event is one thing that happened to a device or to the fleet.
type Event struct {
	// Time is when it happened (the device's timestamp where it has one).
	Time time.Time `json:"time"`
	// Source says which intake produced it (SourceSNMPTrap, …).
	Source string `json:"source"`
	// Kind names what happened within the source: "linkDown", "coldStart",
	// a Redfish MessageId such as "iLOEvents.2.1.ServerPoweredOff",
	// "maintenance_start", "deploy".
	Kind     string   `json:"kind"`
	Severity Severity `json:"severity"`
	// Summary is one human line.
	Summary string `json:"summary"`
	// Labels identify the device with its inventory labels (instance,
	// server or switch, site, row, rack, switch_port, …), so events correlate
	// with alerts on the same labels.
	Labels map[string]string `json:"labels"`
	// Attributes carry the rest (varbinds, the log entry's fields, …). They
	// must not hold secrets.
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Sink takes events. HandleEvent must not block for long: a sink that needs
// slow work queues it. An error means the event was not accepted.
type Sink interface {
	HandleEvent(ctx context.Context, e Event) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e Event) error

// HandleEvent calls f.
func (f SinkFunc) HandleEvent(ctx context.Context, e Event) error { return f(ctx, e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(context.Context, Event) error { return nil })

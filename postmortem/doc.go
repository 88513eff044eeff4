// Package postmortem writes the draft of an incident's postmortem and the
// fleet's periodic reports from what fleetwatch already stored.
//
// It builds the timeline of an incident, or of a time range and label
// selector ("what happened in DC2 last night"), by merging in time order the
// alerter's append-only timeline (alert state changes, incident changes,
// pages and their outcome, remediation runs with their guard decisions,
// SNMP traps, Redfish log entries, lifecycle changes, config reloads and
// other change events) with the ALERTS series of the TSDB, each entry with
// its source. Noise collapses: a flapping alert becomes one line with a
// count, a burst of identical traps one line, and a very long timeline is
// bounded.
//
// It computes the incident's metrics (time to detect from the TSDB, time to
// acknowledge, mitigate and resolve, the impact on servers, racks, sites and
// services) and renders a report with the sections of the Google SRE
// postmortem template as Markdown, self-contained HTML (hand-made SVG graphs
// of the key series with the timeline's marks) or JSON. FleetReport
// summarises a period: the noisiest alerts, flapping rules, pages per on-call
// shift, MTTA/MTTR trends per route and rule, remediation success rates.
//
// RunCLI serves `fleetwatch postmortem` and `fleetwatch report fleet`;
// Handler serves the same over HTTP.
//
// The package only reads: it never writes to the alerter's store or to the
// TSDB, never changes an incident and never calls back into the alerter.
package postmortem

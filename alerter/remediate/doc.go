// Package remediate runs guarded, audited remediation actions when an
// incident's alerts match a configured remediation: a script (exec), a
// webhook into the lifecycle system (http), a Redfish reset or PXE boot
// (redfish) or an inventory lifecycle change (lifecycle).
//
// The alerter's engine calls Engine.OnIncident inside the store transaction
// that changed an incident. The engine decides there, per affected server,
// whether the action may run, checking the guards in a fixed order (see
// docs/remediation.md) and recording every decision as a
// store.RemediationRun plus a timeline event with who, what and why. Runs
// that may go ahead are executed later by Engine.Run, outside any
// transaction, bounded by their timeout; a successful run is then verified
// (the alert must clear within a window, else the incident is escalated).
// Every guard that counts past runs reads the store's audit, so the limits
// hold across restarts and across instances sharing one database.
//
// What this package must not do: page anyone itself (an escalation is a
// timeline event and a run status the engine turns into a page), import
// the rest of the alerter, keep state outside the store that a restart
// would need, pass fleetwatch's own environment to a script, or let a
// secret (a URL token, a header value, a secret env value) reach a run's
// output, the timeline, an error or a log line.
package remediate

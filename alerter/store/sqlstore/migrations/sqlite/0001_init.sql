-- fleetwatch alerter store, version 1 (SQLite).
-- Times are INTEGER nanoseconds since the Unix epoch in UTC; 0 means unset.
-- JSON columns are TEXT holding what encoding/json wrote ("null" for a nil map).

CREATE TABLE incidents (
	id               TEXT    PRIMARY KEY,
	group_key        TEXT    NOT NULL,
	route            TEXT    NOT NULL,
	receiver         TEXT    NOT NULL,
	title            TEXT    NOT NULL,
	cause            TEXT    NOT NULL,
	severity         TEXT    NOT NULL,
	state            TEXT    NOT NULL,
	labels           TEXT    NOT NULL,
	assignee         TEXT    NOT NULL,
	alert_count      INTEGER NOT NULL,
	firing_count     INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	acknowledged_at  INTEGER NOT NULL,
	resolved_at      INTEGER NOT NULL,
	last_notified_at INTEGER NOT NULL,
	version          INTEGER NOT NULL
);
-- The UI's lists: by state, newest first; and everything newest first.
CREATE INDEX incidents_state_created ON incidents (state, created_at);
CREATE INDEX incidents_created ON incidents (created_at);
-- At most one open incident per group: two instances cannot both open one.
CREATE UNIQUE INDEX incidents_open_group ON incidents (group_key) WHERE state <> 'resolved';

CREATE TABLE alerts (
	fingerprint   TEXT    PRIMARY KEY,
	labels        TEXT    NOT NULL,
	annotations   TEXT    NOT NULL,
	starts_at     INTEGER NOT NULL,
	ends_at       INTEGER NOT NULL,
	generator_url TEXT    NOT NULL,
	updated_at    INTEGER NOT NULL,
	incident_id   TEXT    NOT NULL,
	suppressed    TEXT    NOT NULL
);
CREATE INDEX alerts_incident ON alerts (incident_id);
CREATE INDEX alerts_ends ON alerts (ends_at);

CREATE TABLE events (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id TEXT    NOT NULL,
	time        INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	summary     TEXT    NOT NULL,
	labels      TEXT    NOT NULL,
	data        TEXT
);
-- An incident's timeline, and the postmortem's time window.
CREATE INDEX events_incident ON events (incident_id, id);
CREATE INDEX events_time ON events (time);

CREATE TABLE silences (
	id         TEXT    PRIMARY KEY,
	matchers   TEXT    NOT NULL,
	starts_at  INTEGER NOT NULL,
	ends_at    INTEGER NOT NULL,
	created_by TEXT    NOT NULL,
	comment    TEXT    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE notifications (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id  TEXT    NOT NULL,
	receiver     TEXT    NOT NULL,
	action       TEXT    NOT NULL,
	payload      TEXT,
	created_at   INTEGER NOT NULL,
	next_attempt INTEGER NOT NULL,
	attempts     INTEGER NOT NULL,
	last_error   TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	sent_at      INTEGER NOT NULL,
	lease_owner  TEXT    NOT NULL DEFAULT '',
	lease_until  INTEGER NOT NULL DEFAULT 0
);
-- The outbox worker's claim walks the pending ones in due order and stops
-- at its limit; lists by state use it too.
CREATE INDEX notifications_due ON notifications (state, next_attempt, id);
-- Per incident and receiver order, and the incident page.
CREATE INDEX notifications_incident ON notifications (incident_id, receiver, id);

CREATE TABLE remediation_runs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id TEXT    NOT NULL,
	action      TEXT    NOT NULL,
	target      TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	actor       TEXT    NOT NULL,
	dry_run     INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	finished_at INTEGER NOT NULL,
	output      TEXT    NOT NULL
);
-- Guards: runs of one action per hour, runs on one server since the cooldown.
CREATE INDEX remediation_incident ON remediation_runs (incident_id, id);
CREATE INDEX remediation_action ON remediation_runs (action, created_at);
CREATE INDEX remediation_target ON remediation_runs (target, created_at);
CREATE INDEX remediation_created ON remediation_runs (created_at);

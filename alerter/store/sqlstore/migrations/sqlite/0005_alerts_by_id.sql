-- Alerts are keyed by an id in arrival order; the store maps fingerprints
-- to ids in memory (alertids.go). New alerts are appended instead of
-- landing at random places of a fingerprint index.
CREATE TABLE alerts_by_id (
	id            INTEGER PRIMARY KEY,
	fingerprint   TEXT    NOT NULL,
	labels        TEXT    NOT NULL,
	annotations   TEXT    NOT NULL,
	starts_at     INTEGER NOT NULL,
	ends_at       INTEGER NOT NULL,
	generator_url TEXT    NOT NULL,
	updated_at    INTEGER NOT NULL,
	incident_id   TEXT    NOT NULL,
	suppressed    TEXT    NOT NULL
);
INSERT INTO alerts_by_id (fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at, incident_id, suppressed)
	SELECT fingerprint, labels, annotations, starts_at, ends_at, generator_url, updated_at, incident_id, suppressed
	FROM alerts ORDER BY updated_at, fingerprint;
DROP TABLE alerts;
ALTER TABLE alerts_by_id RENAME TO alerts;
CREATE INDEX alerts_incident ON alerts (incident_id);

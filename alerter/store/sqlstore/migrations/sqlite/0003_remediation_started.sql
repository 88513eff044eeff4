-- fleetwatch alerter store, version 3 (SQLite): when a remediation run began.
ALTER TABLE remediation_runs ADD COLUMN started_at INTEGER NOT NULL DEFAULT 0;

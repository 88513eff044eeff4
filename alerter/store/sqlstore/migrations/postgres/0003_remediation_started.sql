-- fleetwatch alerter store, version 3 (PostgreSQL): when a remediation run began.
ALTER TABLE remediation_runs ADD COLUMN started_at BIGINT NOT NULL DEFAULT 0;

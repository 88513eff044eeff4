-- fleetwatch alerter store, version 2 (SQLite): named leases (the active
-- alerter instance's). Times are INTEGER nanoseconds since the Unix epoch.
CREATE TABLE leases (
	name        TEXT    PRIMARY KEY,
	owner       TEXT    NOT NULL,
	term        INTEGER NOT NULL,
	acquired_at INTEGER NOT NULL,
	expires_at  INTEGER NOT NULL
);

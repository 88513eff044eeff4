-- fleetwatch alerter store, version 2 (PostgreSQL): named leases (the
-- active alerter instance's). Times are BIGINT nanoseconds since the Unix
-- epoch, from the database's clock.
CREATE TABLE leases (
	name        TEXT    PRIMARY KEY,
	owner       TEXT    NOT NULL,
	term        BIGINT  NOT NULL,
	acquired_at BIGINT  NOT NULL,
	expires_at  BIGINT  NOT NULL
);

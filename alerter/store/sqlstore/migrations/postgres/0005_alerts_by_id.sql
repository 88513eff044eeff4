-- SQLite's alerts table moved to integer ids in this version; PostgreSQL
-- keeps the fingerprint as the key (its schema version stays in step).
SELECT 1;

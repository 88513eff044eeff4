-- Alerts are written with every change of their end (a re-send renews
-- it); an index on ends_at cost every such write more than the
-- retention sweep it served, which now scans the table.
DROP INDEX alerts_ends;

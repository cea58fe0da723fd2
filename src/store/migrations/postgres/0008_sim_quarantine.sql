-- 0008 (PostgreSQL): mirrors ../0008_sim_quarantine.sql. SIMs taken out of sending because
-- they showed signs of a carrier block (barring codes, repeated refusals, a carrier's
-- restriction notice), until a time or until an administrator releases them. Keyed like the
-- send log: by IMSI, else the device path.
-- The schema version is kept in groupsms_schema by the migration runner, not here.
-- (SQLite lets a non-integer PRIMARY KEY of a rowid table hold NULL; PostgreSQL's primary key
-- is NOT NULL. The store never writes a NULL sim.)

CREATE TABLE sim_quarantine (
    sim    TEXT    PRIMARY KEY CHECK (sim <> ''),
    reason TEXT    NOT NULL,
    since  BIGINT  NOT NULL,
    until  BIGINT  NOT NULL CHECK (until > since)
);

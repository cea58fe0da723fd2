-- 0013: the daemons ("hosts") serving this database, and which host took each delivery.
-- One daemon per SQLite file, several on one PostgreSQL database: each keeps its row here
-- up to date (a heartbeat every third of its lease, with its modems as `modem list` shows
-- them). A host whose heartbeat is older than its lease is `lost`: another host recovers the
-- deliveries it left `sending` (by in_flight_policy) and names itself in `recovered_by`.
-- A clean stop leaves `stopped`.

CREATE TABLE hosts (
    name         TEXT    NOT NULL PRIMARY KEY CHECK (name <> ''),
    state        TEXT    NOT NULL CHECK (state IN ('up', 'stopped', 'lost')),
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    lease_ms     INTEGER NOT NULL CHECK (lease_ms > 0),
    modems       TEXT    NOT NULL DEFAULT '[]',
    recovered_by TEXT
);

-- The host whose modem took the delivery (set when it goes `sending`; kept after, for
-- `show`). NULL for deliveries no host has taken yet, and those of earlier versions.
ALTER TABLE deliveries ADD COLUMN host TEXT;
CREATE INDEX deliveries_sending_by_host ON deliveries(host) WHERE state = 'sending';

-- 0002: status reports (TS 23.040 9.2.2.3). Each part sent, with the SIM it went through and its
-- TP-MR, so a report can be matched after a restart; reports that match nothing, kept; and the
-- delivery state 'undelivered' (the network gave up for good), which needs the table rebuilt
-- (SQLite cannot change a CHECK constraint). The runner turns foreign keys off around a
-- migration and checks them before committing (SQLite "ALTER TABLE" procedure, section 7).

CREATE TABLE deliveries_0002 (
    id                 INTEGER PRIMARY KEY,
    broadcast_id       INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    member_id          INTEGER REFERENCES members(id) ON DELETE SET NULL,
    number             TEXT    NOT NULL,
    state              TEXT    NOT NULL
        CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'delivered',
                         'undelivered')),
    modem              TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    part_refs          TEXT,
    last_error         TEXT,
    not_before         INTEGER,
    possible_duplicate INTEGER NOT NULL DEFAULT 0 CHECK (possible_duplicate IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
INSERT INTO deliveries_0002 SELECT id, broadcast_id, member_id, number, state, modem, attempts,
    part_refs, last_error, not_before, possible_duplicate, created_at, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_0002 RENAME TO deliveries;
CREATE INDEX deliveries_by_broadcast ON deliveries(broadcast_id, state);
CREATE INDEX deliveries_queued ON deliveries(broadcast_id, id) WHERE state = 'queued';
CREATE INDEX deliveries_sending ON deliveries(broadcast_id) WHERE state = 'sending';

-- One row per part that left a modem (the newest try of its delivery). status is the last
-- TP-ST that counts (a final one is never replaced by a temporary one); NULL: no report yet.
CREATE TABLE parts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    part        INTEGER NOT NULL CHECK (part >= 0),     -- 0-based
    sim         TEXT    NOT NULL,                       -- IMSI (the device when unknown)
    mr          INTEGER NOT NULL CHECK (mr BETWEEN 0 AND 255),
    sent_at     INTEGER NOT NULL,
    status      INTEGER CHECK (status BETWEEN 0 AND 255),
    status_at   INTEGER,
    PRIMARY KEY (delivery_id, part)
) WITHOUT ROWID;
CREATE INDEX parts_by_reference ON parts(sim, mr, sent_at);

-- Reports that matched no part (or could not be read), with why.
CREATE TABLE unmatched_reports (
    id        INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    sim       TEXT    NOT NULL,
    device    TEXT    NOT NULL,
    mr        INTEGER,                                  -- NULL when the PDU was unreadable
    recipient TEXT,
    status    INTEGER,
    reason    TEXT    NOT NULL,
    pdu       TEXT    NOT NULL
);
CREATE INDEX unmatched_reports_by_time ON unmatched_reports(at);

-- 0005: the delivery state 'cancelled': a queued delivery its member will never get, because
-- the member opted out of the group by SMS before it was sent. SQLite cannot change a CHECK
-- constraint, so the table is rebuilt as 0003 did (the runner turns foreign keys off around a
-- migration and checks them before committing). Also 'notices': short system messages (the
-- confirmation of an opt-out) sent to one number through one SIM, outside every group's quota.

CREATE TABLE deliveries_0005 (
    id                 INTEGER PRIMARY KEY,
    broadcast_id       INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    member_id          INTEGER REFERENCES members(id) ON DELETE SET NULL,
    number             TEXT    NOT NULL,
    state              TEXT    NOT NULL
        CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'delivered',
                         'undelivered', 'cancelled')),
    modem              TEXT,
    attempts           INTEGER NOT NULL DEFAULT 0,
    part_refs          TEXT,
    last_error         TEXT,
    not_before         INTEGER,
    possible_duplicate INTEGER NOT NULL DEFAULT 0 CHECK (possible_duplicate IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
INSERT INTO deliveries_0005 SELECT id, broadcast_id, member_id, number, state, modem, attempts,
    part_refs, last_error, not_before, possible_duplicate, created_at, updated_at FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_0005 RENAME TO deliveries;
CREATE INDEX deliveries_by_broadcast ON deliveries(broadcast_id, state);
CREATE INDEX deliveries_queued ON deliveries(broadcast_id, id) WHERE state = 'queued';
CREATE INDEX deliveries_sending ON deliveries(broadcast_id) WHERE state = 'sending';
-- The opt-out scope: the broadcasts that reached a number lately.
CREATE INDEX deliveries_by_number ON deliveries(number, created_at);

-- A notice is a broadcast of one delivery that no member asked for: kind 'notice', sent as
-- 'system', consuming no quota, through the SIM named in pin_sim (IMSI or device) only.
ALTER TABLE broadcasts ADD COLUMN kind TEXT NOT NULL DEFAULT 'group'
    CHECK (kind IN ('group', 'notice'));
ALTER TABLE broadcasts ADD COLUMN pin_sim TEXT;

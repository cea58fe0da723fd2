-- 0004: the inbox. Every SMS-DELIVER part a modem handed over is kept (inbox_parts), unique by
-- SIM, originator, SCTS, concatenation reference / part count / part number and a hash of the
-- user data (two messages from one number within the same second of the SMSC's clock are two):
-- a stored message read again after a crash between the commit and AT+CMGD inserts nothing. The parts of one
-- concatenated message make one row of inbox_messages, created with its first part (complete = 0
-- until the last one came), so parts arriving out of order, minutes apart or across a restart
-- are joined in SQLite, and a message that never completes is still there to show.

CREATE TABLE inbox_messages (
    id             INTEGER PRIMARY KEY,
    sim            TEXT    NOT NULL,                -- IMSI (the device when unknown)
    device         TEXT    NOT NULL,
    originator     TEXT    NOT NULL,                -- E.164 when it normalises, else as given
    scts           TEXT    NOT NULL,                -- the SMSC time stamp, RFC 3339 with its zone
    received_at    INTEGER NOT NULL,                -- first part in
    updated_at     INTEGER NOT NULL,                -- last part in
    text           TEXT    NOT NULL,                -- joined text (8-bit data as hex)
    encoding       TEXT    NOT NULL CHECK (encoding IN ('gsm7', 'ucs2', '8bit', 'unreadable')),
    parts          INTEGER NOT NULL CHECK (parts >= 1),       -- parts received
    parts_total    INTEGER NOT NULL CHECK (parts_total >= 1), -- parts announced
    complete       INTEGER NOT NULL CHECK (complete IN (0, 1)),
    concat_ref     INTEGER NOT NULL,                -- -1: not concatenated
    ref_bits       INTEGER NOT NULL CHECK (ref_bits IN (0, 8, 16)),
    member_id      INTEGER REFERENCES members(id) ON DELETE SET NULL,
    member_handle  TEXT,
    from_member    INTEGER NOT NULL CHECK (from_member IN (0, 1)),
    carrier_notice INTEGER NOT NULL CHECK (carrier_notice IN (0, 1)),
    broadcast_id   INTEGER REFERENCES broadcasts(id) ON DELETE SET NULL,
    group_handle   TEXT,                            -- the linked broadcast's group
    handling       TEXT    NOT NULL CHECK (handling IN ('reply', 'opt_out', 'opt_in', 'other')),
    note           TEXT,                            -- e.g. a number shared by several members
    read           INTEGER NOT NULL DEFAULT 0 CHECK (read IN (0, 1))
);
CREATE INDEX inbox_by_time ON inbox_messages(received_at);
CREATE INDEX inbox_by_broadcast ON inbox_messages(broadcast_id) WHERE broadcast_id IS NOT NULL;
CREATE INDEX inbox_by_originator ON inbox_messages(originator, received_at);
CREATE INDEX inbox_open_sets ON inbox_messages(sim, originator, concat_ref, ref_bits, parts_total)
    WHERE complete = 0;

CREATE TABLE inbox_parts (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES inbox_messages(id) ON DELETE CASCADE,
    sim         TEXT    NOT NULL,
    originator  TEXT    NOT NULL,
    scts        TEXT    NOT NULL,
    concat_ref  INTEGER NOT NULL,
    ref_bits    INTEGER NOT NULL,
    parts_total INTEGER NOT NULL,
    seq         INTEGER NOT NULL,                   -- 1-based
    body_hash   INTEGER NOT NULL,                   -- FNV-1a of the user data (text or octets)
    pdu         TEXT    NOT NULL,                   -- as the modem gave it (hex)
    length      INTEGER,                            -- the TPDU length announced with it
    received_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX inbox_parts_once
    ON inbox_parts(sim, originator, scts, concat_ref, ref_bits, parts_total, seq, body_hash);
CREATE INDEX inbox_parts_by_message ON inbox_parts(message_id, seq);

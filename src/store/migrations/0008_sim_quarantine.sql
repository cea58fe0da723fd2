-- 0008: SIMs taken out of sending because they showed signs of a carrier block (barring
-- codes, repeated refusals, a carrier's restriction notice), until a time or until an
-- administrator releases them. Keyed like the send log: by IMSI, else the device path.
-- (Numbered 0008: 0007 is kept for another branch's migration.)

CREATE TABLE sim_quarantine (
    sim    TEXT    PRIMARY KEY CHECK (sim <> ''),
    reason TEXT    NOT NULL,
    since  INTEGER NOT NULL,
    until  INTEGER NOT NULL CHECK (until > since)
);

-- 0001: the whole first schema. Times are Unix milliseconds (UTC); flags are 0/1.

CREATE TABLE groups (
    id             INTEGER PRIMARY KEY,
    handle         TEXT    NOT NULL UNIQUE,
    name           TEXT    NOT NULL,
    header         TEXT,                       -- template override; NULL = the configured default
    daily_quota    INTEGER CHECK (daily_quota >= 0),   -- NULL = the configured default
    monthly_quota  INTEGER CHECK (monthly_quota >= 0),
    modem_fallback INTEGER NOT NULL DEFAULT 1 CHECK (modem_fallback IN (0, 1)),
    created_at     INTEGER NOT NULL
);

-- Modems a group is pinned to (IMSI or device string), in order of preference.
CREATE TABLE group_modems (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    modem    TEXT    NOT NULL,
    PRIMARY KEY (group_id, position)
) WITHOUT ROWID;

CREATE TABLE members (
    id          INTEGER PRIMARY KEY,
    handle      TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    phone       TEXT    NOT NULL,              -- E.164, '+' and digits
    valid       INTEGER NOT NULL DEFAULT 1 CHECK (valid IN (0, 1)),
    sms_enabled INTEGER NOT NULL DEFAULT 1 CHECK (sms_enabled IN (0, 1)),
    unix_uid    INTEGER UNIQUE CHECK (unix_uid >= 0),
    created_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
    group_id  INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    member_id INTEGER NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role      TEXT    NOT NULL CHECK (role IN ('super_admin', 'admin', 'member')),
    opted_out INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
    joined_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE INDEX memberships_by_member ON memberships(member_id);

-- Group and sender handles are copied so the history survives their deletion.
CREATE TABLE broadcasts (
    id                   INTEGER PRIMARY KEY,
    group_id             INTEGER REFERENCES groups(id) ON DELETE SET NULL,
    group_handle         TEXT    NOT NULL,
    sender_id            INTEGER REFERENCES members(id) ON DELETE SET NULL,
    sender_handle        TEXT    NOT NULL,
    body                 TEXT    NOT NULL,     -- as submitted
    text                 TEXT    NOT NULL,     -- header + (masked) body: what is sent
    encoding             TEXT    NOT NULL CHECK (encoding IN ('gsm7', 'ucs2')),
    parts                INTEGER NOT NULL,
    recipients           INTEGER NOT NULL,
    dropped_opted_out    INTEGER NOT NULL,
    dropped_invalid      INTEGER NOT NULL,
    dropped_sms_disabled INTEGER NOT NULL,
    dropped_duplicate    INTEGER NOT NULL,
    quota_day            TEXT    NOT NULL,     -- the quota periods this broadcast consumed
    quota_month          TEXT    NOT NULL,
    state                TEXT    NOT NULL CHECK (state IN ('active', 'finished')),
    created_at           INTEGER NOT NULL,
    finished_at          INTEGER
);
CREATE INDEX broadcasts_by_group ON broadcasts(group_id, id);

CREATE TABLE deliveries (
    id                 INTEGER PRIMARY KEY,
    broadcast_id       INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    member_id          INTEGER REFERENCES members(id) ON DELETE SET NULL,
    number             TEXT    NOT NULL,
    state              TEXT    NOT NULL
        CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'delivered')),
    modem              TEXT,                   -- the modem of the last attempt
    attempts           INTEGER NOT NULL DEFAULT 0,
    part_refs          TEXT,                   -- TP-MR of each part, comma separated
    last_error         TEXT,
    not_before         INTEGER,                -- a queued retry waits until then
    possible_duplicate INTEGER NOT NULL DEFAULT 0 CHECK (possible_duplicate IN (0, 1)),
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX deliveries_by_broadcast ON deliveries(broadcast_id, state);
-- Small partial indexes for the open deliveries; queries name the state exactly to use them.
CREATE INDEX deliveries_queued ON deliveries(broadcast_id, id) WHERE state = 'queued';
CREATE INDEX deliveries_sending ON deliveries(broadcast_id) WHERE state = 'sending';

-- Broadcasts used per group and period; key is the local date ('2024-05-01') or month ('2024-05').
CREATE TABLE quota_usage (
    group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    period   TEXT    NOT NULL CHECK (period IN ('day', 'month')),
    key      TEXT    NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (group_id, period, key)
) WITHOUT ROWID;

-- One row per message sent through a SIM, for carrier send limits that must survive a restart.
CREATE TABLE sim_sends (
    id    INTEGER PRIMARY KEY,
    sim   TEXT    NOT NULL,
    at    INTEGER NOT NULL,
    parts INTEGER NOT NULL
);
CREATE INDEX sim_sends_by_sim ON sim_sends(sim, at);

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    subject TEXT    NOT NULL,
    detail  TEXT    NOT NULL
);

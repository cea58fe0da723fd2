-- 0010: bearer tokens for the HTTP API. Only a hash of each token is kept (SHA-256 of the
-- token, hex): the token itself is shown once, when it is made. A member's token acts as that
-- member; a token without a member is a management token (an administrator's).
-- (Numbered 0010: 0009 is another branch's.)

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    hash         TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
    member_id    INTEGER REFERENCES members (id) ON DELETE CASCADE,
    label        TEXT    NOT NULL DEFAULT '',
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER CHECK (expires_at IS NULL OR expires_at > created_at),
    revoked_at   INTEGER,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_member ON api_tokens (member_id);

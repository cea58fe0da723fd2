-- 0011: Idempotency-Key of the HTTP API's POST .../broadcasts. A key is one token's: a
-- repeat by the same token within 24 h gets the first answer back. `fingerprint` is a hash of
-- what was asked (a repeat asking something else is refused); `broadcast_id` is written in
-- the same transaction as the broadcast, `status` and `body` (the answer) just after it. A
-- row without a broadcast is a claim in progress (or one whose sending was refused, removed
-- at once). (Numbered 0011: 0009 is another branch's.)

CREATE TABLE idempotency_keys (
    id           INTEGER PRIMARY KEY,
    token_id     INTEGER NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    key          TEXT    NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    fingerprint  TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    broadcast_id INTEGER REFERENCES broadcasts (id) ON DELETE SET NULL,
    status       INTEGER,
    body         TEXT,
    UNIQUE (token_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

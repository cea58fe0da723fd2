-- 0009: the webhook outbox. An event is written in the same transaction as the change that
-- caused it (an inbound message, a delivery's outcome, a broadcast's end, a modem leaving or
-- joining the pool), once per endpoint subscribed to its type, so none is lost between the
-- change and its announcement; the sender retries each (event, endpoint) until it is
-- delivered or dead (24 h of tries), across restarts.

CREATE TABLE webhook_events (
    id         INTEGER PRIMARY KEY,
    type       TEXT    NOT NULL
        CHECK (type IN ('inbound', 'delivery', 'broadcast_finished', 'modem')),
    created_at INTEGER NOT NULL,
    data       TEXT    NOT NULL CHECK (json_valid(data))
);

-- One row per endpoint an event goes to. `endpoint` is the endpoint's key (a digest of its
-- URL, never the URL: a robot's URL carries its access token). Pending while `next_try_at`
-- is set; then either `delivered_at` or `dead_at`.
CREATE TABLE webhook_deliveries (
    endpoint     TEXT    NOT NULL,
    event_id     INTEGER NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    attempts     INTEGER NOT NULL DEFAULT 0,
    next_try_at  INTEGER,
    last_try_at  INTEGER,
    last_error   TEXT,
    delivered_at INTEGER,
    dead_at      INTEGER,
    PRIMARY KEY (endpoint, event_id)
) WITHOUT ROWID;
CREATE INDEX webhook_due ON webhook_deliveries (endpoint, next_try_at)
    WHERE next_try_at IS NOT NULL;
CREATE INDEX webhook_by_event ON webhook_deliveries (event_id);

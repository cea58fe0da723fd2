-- 0012: notifications from Alertmanager that were sent, so an identical one within the
-- group's repeat window is not sent again, across restarts too. One row per way of being
-- identical (the rendered text, the group key with its alerts' fingerprints and statuses),
-- each a digest written by the adapter. Rows older than the window are pruned as new ones
-- are written. (Numbered 0012: 0009 to 0011 are kept for other branches' migrations.)

CREATE TABLE alert_sends (
    group_handle TEXT    NOT NULL CHECK (group_handle <> ''),
    key          TEXT    NOT NULL CHECK (key <> ''),
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    sent_at      INTEGER NOT NULL
);
CREATE INDEX alert_sends_by_key ON alert_sends(group_handle, key, sent_at);
CREATE INDEX alert_sends_by_broadcast ON alert_sends(broadcast_id);

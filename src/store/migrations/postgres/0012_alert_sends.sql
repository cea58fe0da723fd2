-- 0012 (PostgreSQL): mirrors ../0012_alert_sends.sql. Notifications from Alertmanager that
-- were sent, so an identical one within the group's repeat window is not sent again, across
-- restarts too. One row per way of being identical (the rendered text, the group key with its
-- alerts' fingerprints and statuses), each a digest written by the adapter. Rows older than
-- the window are pruned as new ones are written.
-- The schema version is kept in groupsms_schema by the migration runner, not here.

CREATE TABLE alert_sends (
    group_handle TEXT    NOT NULL CHECK (group_handle <> ''),
    key          TEXT    NOT NULL CHECK (key <> ''),
    broadcast_id BIGINT  NOT NULL REFERENCES broadcasts(id) ON DELETE CASCADE,
    sent_at      BIGINT  NOT NULL
);
CREATE INDEX alert_sends_by_key ON alert_sends(group_handle, key, sent_at);
CREATE INDEX alert_sends_by_broadcast ON alert_sends(broadcast_id);

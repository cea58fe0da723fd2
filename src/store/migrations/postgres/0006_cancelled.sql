-- 0006 (PostgreSQL): mirrors ../0006_cancelled.sql. The delivery state 'cancelled': a queued
-- delivery its member will never get, because the member opted out of the group by SMS before
-- it was sent. SQLite rebuilds deliveries to change its CHECK; PostgreSQL replaces the
-- constraint in place, keeping the rows and the indexes. Also 'notices': short system messages
-- (the confirmation of an opt-out) sent to one number through one SIM, outside every group's
-- quota.
-- The schema version is kept in groupsms_schema by the migration runner, not here.

ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check
    CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'uncertain', 'delivered',
                     'undelivered', 'cancelled'));
-- The opt-out scope: the broadcasts that reached a number lately.
CREATE INDEX deliveries_by_number ON deliveries(number, created_at);

-- A notice is a broadcast of one delivery that no member asked for: kind 'notice', sent as
-- 'system', consuming no quota, through the SIM named in pin_sim (IMSI or device) only.
ALTER TABLE broadcasts ADD COLUMN kind TEXT NOT NULL DEFAULT 'group'
    CHECK (kind IN ('group', 'notice'));
ALTER TABLE broadcasts ADD COLUMN pin_sim TEXT;

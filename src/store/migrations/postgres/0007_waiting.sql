-- 0007 (PostgreSQL): mirrors ../0007_waiting.sql. Urgent sending and cancelled broadcasts.
-- A group may allow its super-admins to send urgent broadcasts, which start inside the
-- configured quiet hours; a broadcast remembers whether it was sent urgent (so a restart
-- inside the quiet hours still lets it go). A broadcast cancelled by `broadcast cancel` (or by
-- `group delete --force`) records when and by whom; its queued deliveries became 'cancelled'.
-- The schema version is kept in groupsms_schema by the migration runner, not here.

ALTER TABLE groups ADD COLUMN allow_urgent BIGINT NOT NULL DEFAULT 0
    CHECK (allow_urgent IN (0, 1));
ALTER TABLE broadcasts ADD COLUMN urgent BIGINT NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1));
ALTER TABLE broadcasts ADD COLUMN cancelled_at BIGINT;
ALTER TABLE broadcasts ADD COLUMN cancelled_by TEXT;

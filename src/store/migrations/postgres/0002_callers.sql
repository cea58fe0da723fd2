-- 0002 (PostgreSQL): mirrors ../0002_callers.sql. Who really asked for each broadcast (the
-- caller the transport vouched for: `root`, `uid:1000`; later an HTTP token), beside the member
-- it was sent as. NULL for broadcasts accepted before this column existed.
-- The schema version is kept in groupsms_schema by the migration runner, not here.
ALTER TABLE broadcasts ADD COLUMN caller TEXT;

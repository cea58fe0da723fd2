-- Who really asked for each broadcast (the caller the transport vouched for: `root`,
-- `uid:1000`; later an HTTP token), beside the member it was sent as. NULL for broadcasts
-- accepted before this column existed.
ALTER TABLE broadcasts ADD COLUMN caller TEXT;

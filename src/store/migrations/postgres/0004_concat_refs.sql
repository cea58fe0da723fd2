-- 0004 (PostgreSQL): mirrors ../0004_concat_refs.sql. The last concatenation reference
-- (TS 23.040 9.2.3.24.1) used per SIM and recipient, so two long messages from one SIM to one
-- phone never share a reference while the phone may still hold an incomplete one, even across
-- a restart (see scheduler::deliver).
-- The schema version is kept in groupsms_schema by the migration runner, not here.

CREATE TABLE concat_refs (
    sim    TEXT    NOT NULL,                           -- IMSI (the device when unknown)
    number TEXT    NOT NULL,                           -- E.164 recipient
    last   BIGINT  NOT NULL CHECK (last BETWEEN 0 AND 255),
    PRIMARY KEY (sim, number)
);

-- 0016 audit append-only (issue 35): the audit log refuses UPDATE and DELETE, and the keyed
-- checkpoints that backups carry get a table of their own. Rows are sealed with an HMAC whose
-- key lives outside the database, each when it is written; no code changes a row afterwards,
-- so the partial index that found rows awaiting their seal (0006) has nothing left to find.
-- The triggers stop mistakes and anyone holding only the application's SQL; whoever can drop
-- them (the file's owner) is caught by `vamos audit verify` instead (docs/design/audit.md).
DROP INDEX IF EXISTS audit_log_unsealed;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'el registro de auditoría no se modifica ni se borra');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'el registro de auditoría no se modifica ni se borra');
END;

-- A keyed checkpoint of the chain (rows, head id and hash, when, the key's id, its MAC) recorded
-- in the database just before a backup is copied, so that every copy carries the checkpoint it
-- restores to. The live checkpoint itself is a file outside the database.
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    reason TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    head_id BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    mac TEXT NOT NULL
);

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'los puntos de control de auditoría no se modifican ni se borran');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'los puntos de control de auditoría no se modifican ni se borran');
END;

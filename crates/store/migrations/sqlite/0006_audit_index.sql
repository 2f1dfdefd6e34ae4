-- 0006: audit rows awaiting their seal (written before 0004) are found through a partial index,
-- so appending to the chain no longer scans the whole log.
CREATE INDEX IF NOT EXISTS audit_log_unsealed ON audit_log (id) WHERE hash IS NULL;

-- 0003 audit: an append-only record of every read or change of personal data (who, action,
-- subject, purpose, outcome). The server issue adds accounts, roles and the hash chain.

CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    outcome TEXT NOT NULL
);

-- 0004 server: accounts, sessions, API tokens, data-sharing agreements, the audit hash chain.
-- Flags are 0/1 BIGINT and timestamps RFC 3339 TEXT on both backends,
-- so one set of queries (crates/store/src/sql.rs) serves both.

-- Local accounts. territories: comma-separated INE codes (department DD or district DDdd);
-- empty = national. institution: a catalogue institution code (operators), else NULL.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    institution TEXT,
    territories TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until TEXT,
    created_at TEXT NOT NULL,
    password_changed_at TEXT NOT NULL
);

-- Browser sessions: only the SHA-256 of the cookie value is stored.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- API tokens for institutional systems: shown once, stored as SHA-256, scoped to permissions,
-- expiring, revocable; they act as their owner account within these scopes.
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY,
    prefix TEXT NOT NULL UNIQUE,
    token_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT
);

-- Data-sharing agreements: which person fields an institution may see, for what purpose, when.
CREATE TABLE agreements (
    id INTEGER PRIMARY KEY,
    institution TEXT NOT NULL,
    fields TEXT NOT NULL,
    purpose TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT NOT NULL,
    reference TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX agreements_institution ON agreements (institution);

-- The audit log becomes a hash chain: each row stores the hash of the previous row and its
-- own hash over its content; rows written before this migration are sealed by the code.
ALTER TABLE audit_log ADD COLUMN role TEXT;
ALTER TABLE audit_log ADD COLUMN institution TEXT;
ALTER TABLE audit_log ADD COLUMN request_id TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

-- 0005 DCI: the Social Registry API of the Digital Convergence Initiative (crates/server/src/dci.rs).
-- No personal data is kept here: transactions hold statuses and counts, never records.

-- Institutional systems allowed to speak DCI: the account whose API tokens act for the sender,
-- its ed25519 public key (base64; NULL = unsigned messages accepted) and the URL under which
-- its callbacks live (NULL = no asynchronous callbacks).
CREATE TABLE dci_senders (
    sender_id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    public_key TEXT,
    callback_base TEXT,
    active BIGINT NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);

-- One row per accepted message; (sender_id, message_id) is unique, so a replayed message is
-- refused. summary: JSON list of {reference_id, status, status_reason_code, ...} per request.
CREATE TABLE dci_transactions (
    id INTEGER PRIMARY KEY,
    sender_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL UNIQUE,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    callback TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (sender_id, message_id)
);
CREATE INDEX dci_transactions_txn ON dci_transactions (sender_id, transaction_id);

-- Event subscriptions. filter: the filter as received (JSON), re-parsed at each notification;
-- last_person_id / last_household_id: what has already been notified.
CREATE TABLE dci_subscriptions (
    code TEXT PRIMARY KEY,
    sender_id TEXT NOT NULL,
    username TEXT NOT NULL,
    transaction_id TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    reg_event_type TEXT NOT NULL,
    filter_type TEXT NOT NULL,
    filter TEXT NOT NULL,
    notify_record_type TEXT NOT NULL,
    status TEXT NOT NULL,
    last_person_id BIGINT NOT NULL,
    last_household_id BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX dci_subscriptions_sender ON dci_subscriptions (sender_id);

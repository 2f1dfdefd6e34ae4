-- 0012: the intake log of counter-referrals. Under load the server's single writer stores a
-- group of submissions here as one row (the events with the ids they were given, as JSON), in
-- the durable commit that acknowledges them; it then applies the rows in id order — the events
-- into counter_referrals, the referrals they answer — each row deleted in the transaction that
-- applies it. Rows here are acknowledged events not yet applied.
CREATE TABLE counter_referral_log (
    -- The first and last counter-referral ids of the group.
    id BIGINT PRIMARY KEY,
    last_id BIGINT NOT NULL,
    events BIGINT NOT NULL,
    received_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
-- Rows live for moments: stored as they are, not compressed.
ALTER TABLE counter_referral_log ALTER COLUMN payload SET STORAGE EXTERNAL;

-- 0009: the server expires overdue referrals every minute; without this index each pass read
-- every open referral (millions at national scale) inside a write transaction.
CREATE INDEX IF NOT EXISTS referrals_due ON referrals (due_on)
    WHERE status IN ('emitida', 'recibida', 'contactada');

-- 0013: the referrals a counter-referral can answer, looked up by unit, read from the index
-- alone: it now holds each referral's service and status too (it held only the unit, and every
-- referral of the unit was read from the table — a random page of a table of millions per
-- event). Replaces 0008's referrals_unit, which it covers.
CREATE INDEX IF NOT EXISTS referrals_unit_service ON referrals (unit_kind, unit_id, service, status);
DROP INDEX IF EXISTS referrals_unit;

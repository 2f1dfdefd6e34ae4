-- 0008: a counter-referral looks up the referrals of its person, household and community in
-- any status it can answer (open or expired); the partial index of open referrals does not
-- cover expired ones, so without this index the lookup scanned the whole table.
CREATE INDEX IF NOT EXISTS referrals_unit ON referrals (unit_kind, unit_id);

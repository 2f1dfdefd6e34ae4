-- 0032: each referral keeps the weighted deprivation score (IPM, in basis points: 0 to 10000)
-- of the household it serves, as of the measurement that issued it, so that lists can be ordered
-- by it (issue 39). NULL: a community's referral, or a household whose missing answers leave
-- its score unknown. Reading or ordering by it needs poverty in the caller's agreement.
ALTER TABLE referrals ADD COLUMN deprivation INTEGER;

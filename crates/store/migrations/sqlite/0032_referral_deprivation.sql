-- 0032: each referral keeps the weighted deprivation score (IPM, in basis points: 0 to 10000)
-- of the household it serves, as of the measurement that issued it, so that lists can be ordered
-- by it (issue 39). NULL: a community's referral, a household whose missing answers leave its
-- score unknown, or a referral issued before this column (the next generation that keeps it
-- open fills it in). Reading or ordering by it needs poverty, and every answer the index reads,
-- among what the caller may see.
ALTER TABLE referrals ADD COLUMN deprivation INTEGER;

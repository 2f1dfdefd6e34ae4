-- 0010: an incremental Logros update reads only the communities of the persons a
-- counter-referral names, with every household of those communities.
CREATE INDEX IF NOT EXISTS households_community ON households (community_id);
